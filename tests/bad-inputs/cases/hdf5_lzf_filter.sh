# A model with a tensor compressed by LZF, h5py's filter, which plain libhdf5 lacks (it went
# through MPI_Abort, leaving the partial output): refused when the file is opened, before any read.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT layout "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight lzf
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.h5: tensor 'model.layers.0.mlp.down_proj.weight' is compressed with filter 32000 (lzf), which this HDF5 library cannot decode")
