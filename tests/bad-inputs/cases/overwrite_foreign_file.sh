# A file mpimerge did not write (no manifest beside it) at the output path: --overwrite refuses it.
cp "$DATA/set/ft-2.h5" "$T/out.h5"
size=$(stat -c %s "$T/out.h5")  # the file's own size, whatever layout the generator gave it
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/out.h5' is not one mpimerge wrote, so --overwrite leaves it alone: it is a file of $size bytes, and no manifest of mpimerge's beside it ($T/out.h5.manifest.json)")
