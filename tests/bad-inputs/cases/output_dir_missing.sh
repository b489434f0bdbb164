# An output in a directory that does not exist.
OUTPUT=$T/no-such-dir/out.h5
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("output directory '$T/no-such-dir' does not exist")
OUTPUT=$T/out.h5  # checked: nothing appears in $T
