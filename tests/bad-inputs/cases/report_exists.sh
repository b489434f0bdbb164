# --report names an existing file, without --overwrite: refused (it was silently replaced).
echo "my results" >"$T/results.json"
REPORT=$T/results.json
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --report "$T/results.json")
STATUS=2
EXPECT=("report '$T/results.json' exists (pass --overwrite to replace it)")
check_after() { [ "$(cat "$T/results.json")" = "my results" ] || fail "the file at the report path changed"; }
