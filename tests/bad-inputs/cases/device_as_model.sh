# A character device given as a model (/dev/zero reads without end): refused, saying what it is.
ARGS=(merge --base "$DATA/set/base.h5" --model /dev/zero --output "$OUTPUT")
STATUS=1
EXPECT=("/dev/zero: a character device, not a regular file")
