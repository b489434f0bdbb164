# An HDF5 file whose signature is intact but whose metadata after it is garbage.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
head -c 4096 /dev/urandom | dd of="$T/ft-1.h5" bs=1 seek=16 conv=notrunc status=none
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5")
