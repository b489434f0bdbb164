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
#   KEEP_OUTPUT=1        the output existed before and must be left as it was, with its report
#                        and manifest
#   NO_OUTPUT=1          a command that writes nothing (inspect, verify): exit 0 leaves nothing either
#   REPORT=PATH          the report path, when the case moves it (default OUTPUT.report.json)
#   RUN_DIR=DIR          the directory mpirun starts in (default: the harness's)
#   WATCH=(DIR ...)      more directories whose files must stay unchanged (beside $T and $DATA)
#   CHANGED=(FILE ...)   inputs the case itself changes during the run (through MPIMERGE_FAULT)
# and may call `skip REASON` (exit 77), `kill_merge FAULT ARGS...` (a merge killed by
# MPIMERGE_FAULT, leaving its partial output for a resume), add commands to CLEANUP (e.g. to end a
# background merge it started), and define check_after, run last (same_tensors A B there fails the
# case unless checkpoints A and B hold the same tensors, bit for bit). Each case runs under
# `timeout`: a hang fails. tests/bad-inputs/craft.py ($CRAFT) makes hostile HDF5 and safetensors files.
# Every case also checks that every file in $T, $DATA, the output's directory and WATCH, other
# than the output's own (the output, its report, manifest, lock and partial files), is unchanged
# by the run (md5 before and after), and that after a failure nothing new is beside the output.
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
# kill_merge FAULT ARGS...: a merge that MPIMERGE_FAULT kills (SIGKILL) at FAULT, as a node failure would.
kill_merge() {
  local fault=$1 status; shift
  set +e
  MPIMERGE_FAULT="$fault" timeout 120 mpirun -n 2 --oversubscribe -x MPIMERGE_FAULT "$MPIMERGE" "$@" --quiet >/dev/null 2>&1
  status=$?
  set -e
  [ "$status" != 0 ] && [ "$status" != 124 ] || fail "preparing: the merge to kill at $fault exited $status"
}

OUTPUT=$T/out.h5
REPORT=
KEEP_OUTPUT=0
NO_OUTPUT=0
STATUS=
EXPECT=()
RUNNER=()  # a command the mpirun runs under (e.g. one that drops capabilities)
RUN_DIR=$PWD
WATCH=()
CHANGED=()
source "$HERE/cases/$CASE.sh"
[ -n "$STATUS" ] || fail "the case sets no STATUS"

out=${OUTPUT%/}
out_dir=$(dirname "$out")
report=${REPORT:-$out.report.json}
# The files there before the run (the inputs, whatever the case made, and every file beside the
# output), with their checksums; the output's own files are checked apart.
inputs=$(find "$T" "$DATA" "${WATCH[@]}" -type f ! -path "$out" ! -path "$out/*" ! -path "$out.partial*" \
           ! -path "$out.lock" ! -path "$out.manifest.json*" ! -path "$report" ! -path "$report.partial" 2>/dev/null
         if [ -d "$out_dir" ]; then find "$out_dir" -maxdepth 1 -type f ! -path "$out" ! -path "$out.partial*" ! -path "$out.lock" \
           ! -path "$out.manifest.json*" ! -path "$report" ! -path "$report.partial"; fi)
inputs=$(sort -u <<<"$inputs" | grep -vxF -f <(printf '%s\n' "${CHANGED[@]}" /) | grep . || true)
inputs_sum() { [ -z "$inputs" ] || tr '\n' '\0' <<<"$inputs" | xargs -0 -r md5sum 2>&1; }
before_inputs=$(inputs_sum)
# A lock file a killed run left (it locks nothing) may be cleaned up by the run.
stale_lock=$( [ -e "$out.lock" ] && basename "$out.lock" || true)
listing() { if [ -d "$1" ]; then ls -A "$1" | grep -vxF -- "${stale_lock:-/}" || true; else echo "(no directory $1)"; fi; }
before_dir=$(listing "$out_dir")
own_files() {
  if [ -e "$out" ] || [ -L "$out" ]; then stat -c '%F' "$out"; fi
  { [ -e "$out" ] && find "$out" -type f; for f in "$out.manifest.json" "$report"; do [ ! -f "$f" ] || echo "$f"; done; } |
    sort | tr '\n' '\0' | xargs -0 -r md5sum
}
before_output=$(own_files || true)

set +e
(cd "$RUN_DIR" && "${RUNNER[@]}" timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" "${ARGS[@]}") >"$T.out" 2>"$T.err"
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
    after_output=$(own_files || true)
    [ "$after_output" = "$before_output" ] || fail "the existing output (or its report or manifest) was changed"
  else
    [ ! -e "$out" ] && [ ! -L "$out" ] || fail "something was left at the output path $out"
  fi
  after_dir=$(listing "$out_dir")
  [ "$after_dir" = "$before_dir" ] || fail "files were left beside the output: $(diff <(echo "$before_dir") <(echo "$after_dir") | grep '^>' | tr '\n' ' ')"
  echo "ok [$CASE, $RANKS ranks]: exit $status, $lines"
elif [ "$NO_OUTPUT" = 1 ]; then
  [ ! -e "$out" ] && [ "$(listing "$out_dir")" = "$before_dir" ] || fail "exit 0 but something was written beside $out"
  echo "ok [$CASE, $RANKS ranks]: exit 0"
else
  [ -e "$out" ] || fail "exit 0 but no output at $out: $err"
  echo "ok [$CASE, $RANKS ranks]: merged"
fi
after_inputs=$(inputs_sum)
[ "$after_inputs" = "$before_inputs" ] || fail "an input or a file beside the output was changed: $(diff <(echo "$before_inputs") <(echo "$after_inputs") | grep '^[<>]' | tr '\n' ' ')"
[ "$(type -t check_after)" != function ] || check_after
