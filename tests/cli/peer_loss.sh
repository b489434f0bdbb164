#!/usr/bin/env bash
# A rank lost on one node ends every rank within the liveness watch's bound (mpi/liveness.hpp),
# with one line naming the lost rank and its host, and leaves the partial output for --resume:
# - a rank that stops (SIGSTOP: alive but silent, as a node whose network is gone): the others end
#   once MPIMERGE_PEER_TIMEOUT passed without a sign from it; rank 0 names it;
# - rank 0 itself stopped: every other rank names rank 0;
# - a rank SIGKILLed under an mpirun told not to end the job for it (as srun without
#   --kill-on-bad-exit): its connection closes, and the others end at once, not after the timeout.
# Every case through rank 0's line or every other rank's; the fault's rank is the last one, or 0.
# Then --resume (no watch needed to agree: MPIMERGE_PEER_TIMEOUT=0) writes the reference bytes.
source "$(dirname "$0")/common.sh"
[ "$RANKS" -ge 3 ] || fail "needs 3 ranks or more (RANKS=$RANKS)"
LAST=$((RANKS - 1))
HOST=$(hostname)
TIMEOUT=2
# From the start to every rank gone, the merge up to the fault included (4-6 s here when the
# machine is idle, 25 s seen under a load of 20 on 2 cores): without the watch a stopped rank hangs
# the merge until the hang guard (120 s), so any bound below it shows the watch ended it.
BOUND=60

run "$RANKS" generate --output-dir "$WORK/set" --params 1M --models 3 --vocab 1001 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5" --model "$WORK/set/ft-3.h5")
common=(--density 0.3 --memory-budget 1M --quiet)
run "$RANKS" merge "${inputs[@]}" "${common[@]}" --output "$WORK/reference.h5"
expect_status 0

# lose FAULT OUT EXPECTED-LINE [MPIRUN-OPTIONS...]: a merge that MPIMERGE_FAULT makes lose a rank
# ends with exit 1 within BOUND seconds and the expected line (an extended regular expression) on
# stderr; --resume gives the reference bytes.
lose() {
  local fault=$1 out=$2 line=$3; shift 3
  local start=$SECONDS
  set +e
  MPIMERGE_PEER_TIMEOUT=$TIMEOUT MPIMERGE_FAULT="$fault" timeout 120 mpirun -n "$RANKS" --oversubscribe "$@" \
    -x MPIMERGE_FAULT -x MPIMERGE_PEER_TIMEOUT "$MPIMERGE" merge "${inputs[@]}" "${common[@]}" --output "$out" \
    >"$WORK/out" 2>"$WORK/err"
  local status=$? took=$((SECONDS - start))
  set -e
  echo "$fault: mpirun ended with $status after ${took}s (whole merge included)"
  [ "$status" != 124 ] || fail "$fault: the merge hung: $(cat "$WORK/err")"
  [ "$status" != 0 ] || fail "$fault: the merge that lost a rank exited 0"
  [ "$took" -le "$BOUND" ] || fail "$fault: ${took}s to end, more than $BOUND: $(cat "$WORK/err")"
  grep -qxE -- "$line" "$WORK/err" || fail "$fault: stderr lacks the line: $line
$(cat "$WORK/err")"
  [ ! -e "$out" ] || fail "$fault: something at the output path"
  [ -e "$out.partial" ] && [ -e "$out.partial.journal" ] || fail "$fault: no partial output to resume"
  MPIMERGE_PEER_TIMEOUT=0 run "$RANKS" merge "${inputs[@]}" "${common[@]}" --output "$out" --resume
  expect_status 0
  cmp "$WORK/reference.h5" "$out" || fail "$fault: the resumed output differs"
  rm -f "$out"
}

silent="nothing heard from it for $TIMEOUT s \(its node or its network is down, or it is stopped\); ending every rank \(MPIMERGE_PEER_TIMEOUT=$TIMEOUT\)"
lose "tensors-done:1:$LAST:stop" "$WORK/stopped.h5" "mpimerge: error \(rank 0\): rank $LAST on $HOST is lost: $silent"
# Every other rank finds rank 0 silent on its own: the first to print ends the job (mpirun), so
# the line comes from one of them, whichever.
lose "tensors-done:1:0:stop" "$WORK/root-stopped.h5" "mpimerge: error \(rank [1-9][0-9]*\): rank 0 on $HOST is lost: $silent"

# A rank SIGKILLed under an mpirun told to leave the others running (as srun without
# --kill-on-bad-exit would): they end on their own, at once. That mpirun never exits once they
# have (it waits for them to finalize): the test watches its ranks, then ends it.
out=$WORK/killed.h5
MPIMERGE_PEER_TIMEOUT=$TIMEOUT MPIMERGE_FAULT="tensors-done:1:$LAST" mpirun -n "$RANKS" --oversubscribe \
  --mca orte_abort_on_non_zero_status 0 -x MPIMERGE_FAULT -x MPIMERGE_PEER_TIMEOUT "$MPIMERGE" merge "${inputs[@]}" \
  "${common[@]}" --output "$out" >"$WORK/out" 2>"$WORK/err" &
launcher=$!
start=$SECONDS
sleep 1
while [ -n "$(pgrep -P "$launcher")" ] && [ $((SECONDS - start)) -le "$BOUND" ]; do sleep 0.2; done
ranks_left=$( (pgrep -P "$launcher" || true) | wc -l)
# SIGTERM, then SIGKILL: an mpirun in this state may ignore SIGTERM (seen once by hand).
kill "$launcher" 2>/dev/null || true
for _ in $(seq 25); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$launcher" 2>/dev/null || true
wait "$launcher" || true
echo "SIGKILL: every rank gone $((SECONDS - start))s after the start (whole merge included)"
[ "$ranks_left" = 0 ] || fail "SIGKILL: $ranks_left ranks still ran after ${BOUND}s: $(cat "$WORK/err")"
line="mpimerge: error (rank 0): rank $LAST on $HOST is lost: its process ended without leaving the job (killed, or crashed); ending every rank (MPIMERGE_PEER_TIMEOUT=$TIMEOUT)"
grep -qxF -- "$line" "$WORK/err" || fail "SIGKILL: stderr lacks the line: $line
$(cat "$WORK/err")"
[ ! -e "$out" ] && [ -e "$out.partial" ] || fail "SIGKILL: expected a partial output and nothing at the output path"

# A value that is no number of seconds: a usage error on every rank, before any work.
MPIMERGE_PEER_TIMEOUT=0.5 run "$RANKS" inspect "$WORK/reference.h5"
expect_status 2
expect_err "mpimerge: error: MPIMERGE_PEER_TIMEOUT=0.5: expected the seconds after which a silent rank counts as lost, 0 (no liveness watch) or a number from 1 to 86400"
echo "peer loss: ok"
