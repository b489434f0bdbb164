# --output names a model (even with --overwrite, an input is never replaced).
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
OUTPUT=$T/ft-1.h5
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/ft-1.h5' is the model 1 input")
