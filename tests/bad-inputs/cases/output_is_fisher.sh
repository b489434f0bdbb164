# --output names a Fisher input (with --overwrite): refused, the input kept.
cp "$DATA/set/fisher-1.h5" "$T/fisher-1.h5"
OUTPUT=$T/fisher-1.h5
KEEP_OUTPUT=1
ARGS=(merge --method fisher --model "$DATA/set/ft-1.h5" --model "$DATA/set/ft-2.h5" --fisher "$T/fisher-1.h5"
      --fisher "$DATA/set/fisher-2.h5" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/fisher-1.h5' is the fisher 1 input")
