# A model touched between its open and the output's rename (MPIMERGE_FAULT runs `touch` on rank 0
# once everything is written): the pins no longer hold, exit 1, and no output.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
export MPIMERGE_FAULT="commit:0:0:run:touch '$T/ft-1.h5'"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("model 1 '$T/ft-1.h5' changed while the merge read it (it was modified)" "none is written")
CHANGED=("$T/ft-1.h5")  # the fault hook touches it: its bytes stay, its times do not
