# An output (and a report) in directories that do not exist yet: they are made, and the merge
# writes there.
OUTPUT=$T/no-such-dir/deeper/out.h5
REPORT=$T/reports/today/out.json
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --report "$REPORT" --quiet)
STATUS=0
check_after() { [ -f "$REPORT" ] && [ -f "$T/no-such-dir/deeper/out.h5.manifest.json" ] || fail "no report or manifest: $(find "$T")"; }
