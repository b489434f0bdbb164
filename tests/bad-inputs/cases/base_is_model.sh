# The base given again as a model.
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$DATA/set/base.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("model 2 '$DATA/set/base.h5' is the same file as base '$DATA/set/base.h5'")
