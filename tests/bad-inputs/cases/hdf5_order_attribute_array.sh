# A model whose mpimerge_order attribute (a tensor's position, which the merge uses) is
# an array of 3 int64 (read into one int64 it overflowed the heap):
# refused before anything is read, naming the file, the tensor and the attribute.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT attr "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight order-array3
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: tensor 'model.layers.0.mlp.down_proj.weight' has an attribute mpimerge_order of 3 values")
