# A model whose dataspace claims 33 dimensions (HDF5 holds at most 32): HDF5's own check, reported
# as one line naming the file and the tensor.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT rank "$T/ft-1.h5" model.embed_tokens.weight 33
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: cannot open dataset 'model.embed_tokens.weight': simple dataspace dimensionality is too large")
