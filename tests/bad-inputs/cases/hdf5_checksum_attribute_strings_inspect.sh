# inspect on a file whose mpimerge_checksum attribute is an array of 4000 strings (it crashed):
# listing tensors reads no checksum, so it lists them.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT attr "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight checksum-strings4000
ARGS=(inspect "$T/ft-1.h5")
STATUS=0
NO_OUTPUT=1
