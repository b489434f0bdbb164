# One model given twice.
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$DATA/set/ft-2.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("model 3 '$DATA/set/ft-1.h5' is the same file as model 1 '$DATA/set/ft-1.h5'")
