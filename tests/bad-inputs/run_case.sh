#!/usr/bin/env bash
# Runs one bad-input case: run_case.sh CASE RANKS (CASE: a file of cases/, without .sh).
#
# A case is a small bash file, sourced here, that builds its bad input from the good ones in
# $DATA (see make_inputs.sh) inside its own directory $T, and sets:
#   ARGS=(merge ...)     the mpimerge command line
#   STATUS=2             the exit code it must end with (2 usage, 1 failure, 0 for a case that must work)
#   EXPECT=("..." ...)   substrings the one error line must hold: the file and the tensor
#   OUTPUT=$T/out.h5     the output path (the default): nothing may be left there, nor
#                        OUTPUT.partial, its journal, or any other new file beside it
#   KEEP_OUTPUT=1        the output existed before and must be left as it was
#   NO_OUTPUT=1          a command that writes nothing (inspect, verify): exit 0 leaves nothing either
# and may call `skip REASON` (exit 77), and define check_after, run last (same_tensors A B there
# fails the case unless checkpoints A and B hold the same tensors, bit for bit). Each case runs
# under `timeout`: a hang fails. Every case also checks that its inputs ($T, $DATA) are unchanged
# by the run. tests/bad-inputs/craft.py ($CRAFT) makes hostile HDF5 and safetensors files.
set -euo pipefail
CASE=${1:?case name}
RANKS=${2:?rank count}
HERE=$(cd "$(dirname "$0")" && pwd)
MPIMERGE=${MPIMERGE:?path to the mpimerge binary}
DATA=${DATA:?the inputs of make_inputs.sh}
EDIT="/usr/bin/python3 $HERE/edit.py"
CRAFT="/usr/bin/python3 $HERE/craft.py"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
T=$(mktemp -d /tmp/bad-input-XXXXXX)
CLEANUP=()
cleanup() {
  local c
  for c in "${CLEANUP[@]}"; do eval "$c" || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL [$CASE, $RANKS ranks]: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
# Runs mpimerge the way a case's preparation needs it (2 ranks, quiet); fails the case on error.
prepare() { timeout 120 mpirun -n 2 --oversubscribe "$MPIMERGE" "$@" --quiet >/dev/null || fail "preparing: mpimerge $*"; }
same_tensors() {
  timeout 120 mpirun -n 2 --oversubscribe "$MPIMERGE" diff "$1" "$2" --summary >"$T.diff" 2>&1 ||
    fail "$1 and $2 differ: $(tail -3 "$T.diff")"
  rm -f "$T.diff"
}

OUTPUT=$T/out.h5
KEEP_OUTPUT=0
NO_OUTPUT=0
STATUS=
EXPECT=()
RUNNER=()  # a command the mpirun runs under (e.g. one that drops capabilities)
source "$HERE/cases/$CASE.sh"
[ -n "$STATUS" ] || fail "the case sets no STATUS"

out=${OUTPUT%/}
out_dir=$(dirname "$out")
# The files there before the run (the inputs, and whatever the case made), with their checksums.
inputs=$(find "$T" "$DATA" -type f ! -path "$out" ! -path "$out/*" 2>/dev/null | sort)
inputs_sum() { [ -z "$inputs" ] || tr '\n' '\0' <<<"$inputs" | xargs -0 -r md5sum 2>&1; }
before_inputs=$(inputs_sum)
before_dir=$(ls -A "$out_dir")
before_output=$( [ -e "$out" ] && find "$out" -type f -print0 | sort -z | xargs -0 -r md5sum || true)

set +e
"${RUNNER[@]}" timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" "${ARGS[@]}" >"$T.out" 2>"$T.err"
status=$?
set -e
err=$(cat "$T.err"); rm -f "$T.out" "$T.err"
[ "$status" != 124 ] || fail "mpimerge hung (killed by timeout): ${ARGS[*]}"
[ "$status" = "$STATUS" ] || fail "expected exit $STATUS, got $status: $err"
if [ "$STATUS" != 0 ]; then
  lines=$(grep '^mpimerge: error' <<<"$err" || true)
  [ "$(grep -c . <<<"$lines")" = 1 ] || fail "expected one error line, got: $err"
  ! grep -q 'aborting all ranks' <<<"$lines" || fail "the ranks did not agree on the error (MPI_Abort): $lines"
  for e in "${EXPECT[@]}"; do grep -qF -- "$e" <<<"$lines" || fail "the error line lacks '$e': $lines"; done
  if [ "$KEEP_OUTPUT" = 1 ]; then
    after_output=$(find "$out" -type f -print0 | sort -z | xargs -0 -r md5sum)
    [ "$after_output" = "$before_output" ] || fail "the existing output was changed"
  else
    [ ! -e "$out" ] || fail "something was left at the output path $out"
  fi
  after_dir=$(ls -A "$out_dir")
  [ "$after_dir" = "$before_dir" ] || fail "files were left beside the output: $(diff <(echo "$before_dir") <(echo "$after_dir") | grep '^>' | tr '\n' ' ')"
  echo "ok [$CASE, $RANKS ranks]: exit $status, $lines"
elif [ "$NO_OUTPUT" = 1 ]; then
  [ ! -e "$out" ] && [ "$(ls -A "$out_dir")" = "$before_dir" ] || fail "exit 0 but something was written beside $out"
  echo "ok [$CASE, $RANKS ranks]: exit 0"
else
  [ -e "$out" ] || fail "exit 0 but no output at $out: $err"
  echo "ok [$CASE, $RANKS ranks]: merged"
fi
[ "$(inputs_sum)" = "$before_inputs" ] || fail "an input was changed"
[ "$(type -t check_after)" != function ] || check_after
