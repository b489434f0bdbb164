# A FIFO given as a model blocked the merge forever (opening a FIFO waits for a writer): refused
# before anything opens it.
mkfifo "$T/ft-1.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: a FIFO (named pipe), not a regular file")
