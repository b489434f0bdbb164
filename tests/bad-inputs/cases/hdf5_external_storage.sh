# A model whose tensor keeps its bytes in an external raw file (HDF5 external storage): the data
# lies outside the checkpoint, where a crafted file could point anywhere. Refused up front.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT layout "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight external
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: tensor 'model.layers.0.mlp.down_proj.weight' keeps its data in external files")
