# An HDF5 model truncated after the analysis pass, before the merge pass reads it again (where
# HDF5 reads zeros past the end): the pins catch it before the rename, exit 1, no output.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
export MPIMERGE_FAULT="analysis:0:0:run:truncate -s 1000000 '$T/ft-1.h5'"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("model 1 '$T/ft-1.h5' changed while the merge read it (its size went from" "to 1000000 bytes)")
CHANGED=("$T/ft-1.h5")  # the fault hook's doing
