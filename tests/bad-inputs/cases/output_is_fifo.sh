# A FIFO at the output path (with --overwrite): refused at once, no hang.
mkfifo "$T/out.h5"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/out.h5' is a FIFO")
