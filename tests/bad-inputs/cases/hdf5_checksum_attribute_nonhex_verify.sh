# verify needs the checksums a file records: a malformed mpimerge_checksum attribute (checksum-nonhex)
# is checked for class, size and dataspace before it is read, and refused naming the file, the
# tensor and the attribute.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT attr "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight checksum-nonhex
ARGS=(verify "$T/ft-1.h5")
STATUS=1
EXPECT=("$T/ft-1.h5: tensor 'model.layers.0.mlp.down_proj.weight' has an attribute mpimerge_checksum 'zzzzzzzzzzzzzzzz' that is not 16 lower-case hexadecimal digits")
