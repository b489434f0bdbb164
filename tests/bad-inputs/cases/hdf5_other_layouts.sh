# Valid HDF5 that mpimerge itself does not write: chunked, gzip-compressed, big-endian and compact
# tensors, read through HDF5 by each rank. The merge is the one of the plain file.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT layout "$T/ft-1.h5" model.layers.0.mlp.up_proj.weight chunked
$CRAFT layout "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight gzip
$CRAFT layout "$T/ft-1.h5" model.embed_tokens.weight bigendian
$CRAFT layout "$T/ft-1.h5" model.norm.weight compact
prepare merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$T/reference.h5" --no-report
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=0
check_after() { same_tensors "$OUTPUT" "$T/reference.h5"; }
