# An HDF5 file cut in half (a copy that stopped early): its tensors' data runs past its end.
size=$(stat -c %s "$DATA/set/ft-1.h5")
head -c $((size / 2)) "$DATA/set/ft-1.h5" >"$T/ft-1.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5")
