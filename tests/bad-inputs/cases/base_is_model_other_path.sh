# The base given again as a model by another path (relative, through ..).
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/st/../set/./base.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("model 1 '$DATA/st/../set/./base.h5' is the same file as base")
