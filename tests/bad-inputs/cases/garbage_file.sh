# A file of random bytes given as a model: neither HDF5 nor safetensors.
head -c 65536 /dev/urandom >"$T/ft-1.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: not a checkpoint this program reads")
