# --report names a file that is not an mpimerge report, with --overwrite: refused, saying what it is.
echo "my results" >"$T/results.json"
REPORT=$T/results.json
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --report "$T/results.json" --overwrite)
STATUS=2
EXPECT=("report '$T/results.json' is not a report mpimerge wrote, so --overwrite leaves it alone: it is a file of 11 bytes")
check_after() { [ "$(cat "$T/results.json")" = "my results" ] || fail "the file at the report path changed"; }
