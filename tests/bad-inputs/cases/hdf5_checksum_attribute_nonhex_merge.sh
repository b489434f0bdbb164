# A model whose mpimerge_checksum attribute holds 16 characters that are not hex digits (once an
# error cut short, naming neither file nor tensor). A merge does not read checksums: it works.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT attr "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight checksum-nonhex
prepare merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$T/reference.h5" --no-report
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=0
check_after() { same_tensors "$OUTPUT" "$T/reference.h5"; }
