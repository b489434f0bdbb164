# A merge into directories it made itself fails (NaN in a model): it removes them again, leaving
# nothing at all.
cp "$DATA/set/ft-2.h5" "$T/ft-2.h5"
$EDIT h5-poke "$T/ft-2.h5" model.layers.1.self_attn.k_proj.weight nan
OUTPUT=$T/new/deeper/out.h5
REPORT=$T/reports/out.json
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$T/ft-2.h5" --output "$OUTPUT" --report "$REPORT")
STATUS=1
EXPECT=("tensor 'model.layers.1.self_attn.k_proj.weight' holds NaN or infinite values")
check_after() { [ "$(ls -A "$T")" = "ft-2.h5" ] || fail "the run left $(ls -A "$T" | tr '\n' ' ')"; }
