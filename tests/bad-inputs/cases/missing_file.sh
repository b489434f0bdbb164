# A model that does not exist: a usage error naming it, before any file is opened.
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/missing.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("model 1 '$T/missing.h5' does not exist")
