# A model with a 512-byte user block before its HDF5 data (valid HDF5; it was "not a checkpoint
# this program reads"). The merge is the one of the same file without it.
$CRAFT userblock "$DATA/set/ft-1.h5" "$T/ft-1.h5"
prepare merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$T/reference.h5" --no-report
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=0
check_after() { same_tensors "$OUTPUT" "$T/reference.h5"; }
