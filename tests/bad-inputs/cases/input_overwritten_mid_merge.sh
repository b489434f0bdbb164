# A model overwritten in place (cp over it: same inode, same size, other bytes) between the
# analysis pass and the merge pass: exit 1, no output.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
export MPIMERGE_FAULT="analysis:0:0:run:cp '$DATA/set/ft-2.h5' '$T/ft-1.h5'"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("model 1 '$T/ft-1.h5' changed while the merge read it (it was modified)")
CHANGED=("$T/ft-1.h5")  # the fault hook's doing
