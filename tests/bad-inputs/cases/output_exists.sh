# An existing output without --overwrite: refused, left as it was.
echo "an older merge" >"$T/out.h5"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("output '$T/out.h5' exists (pass --overwrite to replace it)")
