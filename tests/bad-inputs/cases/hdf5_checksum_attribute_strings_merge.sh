# A model whose mpimerge_checksum attribute is an array of 4000 strings (read into one string it
# crashed merge and inspect). A merge does not need the checksums and never reads them: it works,
# and gives what the same model without the attribute gives.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
$CRAFT attr "$T/ft-1.h5" model.layers.0.mlp.down_proj.weight checksum-strings4000
prepare merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$T/reference.h5" --no-report
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=0
check_after() { same_tensors "$OUTPUT" "$T/reference.h5"; }
