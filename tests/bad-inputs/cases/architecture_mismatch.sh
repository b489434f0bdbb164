# A model of another architecture (other sizes): one short line with the count, the first three
# differences and the inspect command that lists them all, not one line per tensor.
prepare generate --output-dir "$T/other" --params 2M --models 1 --vocab 300
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$T/other/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("the inputs cannot be merged: " " problems, the first 3: tensor 'model.embed_tokens.weight' has shape [300, "
        "in model 2 ($T/other/ft-1.h5) but [257, "
        "; \`mpimerge inspect $DATA/set/base.h5 $DATA/set/ft-1.h5 $T/other/ft-1.h5\` lists all ")
check_after() { [ "${#lines}" -lt 900 ] || fail "the error line is ${#lines} characters long: $lines"; }
