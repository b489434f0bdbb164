# A model whose tensor is a virtual dataset, a view of a dataset in another file: refused up front.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT layout "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight virtual
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: tensor 'model.layers.0.mlp.down_proj.weight' is a virtual dataset")
