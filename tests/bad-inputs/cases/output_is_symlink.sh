# A symbolic link at the output path (to a user's file) is not an output mpimerge wrote: refused.
echo "keep me" >"$T/target.txt"
ln -s "$T/target.txt" "$T/out.h5"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/out.h5' is a symbolic link to $T/target.txt")
