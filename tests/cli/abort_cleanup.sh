#!/usr/bin/env bash
# An error one rank alone meets inside a collective phase (here the write, after some tensors were
# journaled) cannot be agreed on, as the other ranks may wait in the same collective call: every
# rank ends through MPI_Abort, and the aborting rank removes what the run created. Nothing is left at the output path: no output, no OUTPUT.partial, no journal, no report.
# Both formats, the error on rank 0 and on the last rank (MPIMERGE_FAULT=point:count:rank:throw).
source "$(dirname "$0")/common.sh"
run 2 generate --output-dir "$WORK/set" --params 1M --models 2 --quiet
expect_status 0
INPUTS=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5")
for format in out.h5 out-hf; do
  for rank in 0 $((RANKS - 1)); do
    mkdir -p "$WORK/o"
    # A budget small enough for several groups, so the fault comes after tensors were written.
    set +e
    MPIMERGE_FAULT="write:1:$rank:throw" timeout 120 mpirun -n "$RANKS" --oversubscribe -x MPIMERGE_FAULT \
      "$MPIMERGE" merge "${INPUTS[@]}" --output "$WORK/o/$format" --memory-budget 2MiB --quiet >"$WORK/out" 2>"$WORK/err"
    STATUS=$?
    set -e
    [ "$STATUS" != 124 ] || fail "the merge hung after rank $rank's error"
    [ "$STATUS" != 0 ] || fail "the merge succeeded despite rank $rank's error"
    grep -qF "mpimerge: error (rank $rank, aborting all ranks): fault injected at write" "$WORK/err" ||
      fail "no abort line from rank $rank: $(cat "$WORK/err")"
    left=$(ls -A "$WORK/o")
    [ -z "$left" ] || fail "$format, rank $rank's error: left behind: $left"
    echo "ok: $format, error on rank $rank of $RANKS: exit $STATUS, nothing left"
    rm -rf "$WORK/o"
  done
done
