# An output whose directory would have to be made where a file stands: refused before anything.
echo "a file" >"$T/notes"
OUTPUT=$T/notes/sub/out.h5
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("output directory '$T/notes/sub' cannot be made: '$T/notes' is not a directory")
