# A model with one bit flipped in a tensor's data address (bit 40: a terabyte past the end of the
# file). It went through MPI_Abort; now the catalog holds every address against the file's size.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT flip-address "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: tensor 'model.layers.0.mlp.down_proj.weight' has its data at bytes " "past the end of the file")
