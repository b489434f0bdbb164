# A directory named like an HDF5 output, holding a user's file: --overwrite refuses it.
mkdir "$T/out.h5"
echo "data" >"$T/out.h5/results.csv"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/out.h5' is not one mpimerge wrote, so --overwrite leaves it alone: it is a directory holding results.csv")
