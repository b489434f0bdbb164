# The base given again as a model through a symbolic link.
ln -s "$DATA/set/base.h5" "$T/looks-new.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/looks-new.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("model 1 '$T/looks-new.h5' is the same file as base '$DATA/set/base.h5'")
