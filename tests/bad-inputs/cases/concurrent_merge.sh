# Two merges to one output at once (density 0.2, then 0.5): the first holds the output's lock, the
# second is refused at once with the holder's pid and host; the first then finishes alone, with
# its own bytes and a report that says 0.2. The first is held at its "analysis" point by a fault
# hook that waits on a FIFO, so the order is certain without sleeps.
mkfifo "$T/held" "$T/go"
common=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$DATA/set/ft-2.h5")
MPIMERGE_FAULT="analysis:0:0:run:echo held >'$T/held'; read line <'$T/go'" \
  timeout 120 mpirun -n "$RANKS" --oversubscribe -x MPIMERGE_FAULT "$MPIMERGE" "${common[@]}" --output "$OUTPUT" --density 0.2 --quiet \
  >"$T/first.out" 2>&1 &
first=$!
CLEANUP+=("kill $first 2>/dev/null")
# Until the first merge holds the lock and has written its partial output (a timeout, should it
# fail before).
timeout 120 bash -c 'read -r line <"$1"' _ "$T/held" || fail "the first merge never reached its analysis point: $(cat "$T/first.out")"
holder=$(cat "$OUTPUT.lock")
ARGS=("${common[@]}" --output "$OUTPUT" --density 0.5)
STATUS=2
EXPECT=("output '$OUTPUT' is being written by another mpimerge run (${holder#mpimerge lock: })")
check_after() {
  timeout 60 bash -c 'echo go >"$1"' _ "$T/go" || fail "the first merge no longer waits: $(cat "$T/first.out")"
  wait "$first" || fail "the first merge failed: $(cat "$T/first.out")"
  grep -q '"density": 0.2,' "$OUTPUT.report.json" || fail "the report does not say density 0.2"
  timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" "${common[@]}" --density 0.2 --output "$T/alone.h5" --quiet ||
    fail "the merge alone failed"
  cmp "$OUTPUT" "$T/alone.h5" || fail "the first merge's output is not what it writes alone"
}
