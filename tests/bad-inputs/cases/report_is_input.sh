# A --report path that is an input: the report would overwrite it.
cp "$DATA/set/ft-2.h5" "$T/ft-2.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$T/ft-2.h5" --output "$OUTPUT" --report "$T/ft-2.h5")
STATUS=2
EXPECT=("report '$T/ft-2.h5' is the model 2 input")
