# --report names a Gram input (with --overwrite): refused, the input kept.
cp "$DATA/set/gram-2.h5" "$T/gram-2.h5"
ARGS=(merge --method regmean --model "$DATA/set/ft-1.h5" --model "$DATA/set/ft-2.h5" --gram "$DATA/set/gram-1.h5"
      --gram "$T/gram-2.h5" --output "$OUTPUT" --report "$T/gram-2.h5" --overwrite)
STATUS=2
EXPECT=("report '$T/gram-2.h5' is the gram 2 input")
