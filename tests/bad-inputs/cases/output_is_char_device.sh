# A character device at the output path (with --overwrite): refused, never replaced by a file.
mknod "$T/out.h5" c 1 3 2>"$T/mknod.err" || skip "cannot make a device node here: $(cat "$T/mknod.err")"
rm -f "$T/mknod.err"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/out.h5' is a character device")
