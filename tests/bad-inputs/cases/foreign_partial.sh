# A directory at OUTPUT.partial with no journal of mpimerge's beside it is not an interrupted merge
# of ours: refused even with --overwrite and --resume, and left as it was.
mkdir "$T/out.h5.partial"
echo "someone's notes" >"$T/out.h5.partial/notes.txt"
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --overwrite --resume)
STATUS=2
EXPECT=("'$T/out.h5.partial' is a directory holding notes.txt with no journal of mpimerge's beside it: this run did not write it")
