# Sourced by the CLI tests: how to run the program under mpirun, and small assertions.
set -euo pipefail
MPIMERGE=${MPIMERGE:?path to the mpimerge binary}
RANKS=${RANKS:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# run RANKS ARGS...: runs mpimerge under mpirun with a hang guard; sets STATUS, OUT, ERR.
run() {
  local ranks=$1; shift
  set +e
  timeout 120 mpirun -n "$ranks" --oversubscribe "$MPIMERGE" "$@" >"$WORK/out" 2>"$WORK/err"
  STATUS=$?
  set -e
  OUT=$(cat "$WORK/out"); ERR=$(grep -v '^-\{5,\}\|^mpirun\|^$\|Primary job\|non-zero exit\|Process name\|Exit code\|^ *\[' "$WORK/err" || true)
  if [ "$STATUS" = 124 ]; then fail "mpimerge $* hung (timeout)"; fi
}

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { [ "$STATUS" = "$1" ] || fail "expected exit $1, got $STATUS: $ERR"; }
expect_err() { grep -qF -- "$1" <<<"$ERR" || fail "stderr lacks '$1': $ERR"; }
expect_out() { grep -qF -- "$1" <<<"$OUT" || fail "stdout lacks '$1': $OUT"; }
expect_one_error_line() {
  local n
  n=$(grep -c '^mpimerge: error:' <<<"$ERR" || true)
  [ "$n" = 1 ] || fail "expected one error line, got $n: $ERR"
}

# grid_file FILE OUTDIR: a sweep grid over $WORK/set (base.h5 and ft-1..3.h5, as `generate`
# writes them) that writes to OUTDIR; the lines under `grid:` (its axes) come on stdin.
grid_file() {
  {
    printf 'base: %s\nmodels: [%s, %s, %s]\noutput_dir: %s\ngrid:\n' "$WORK/set/base.h5" \
      "$WORK/set/ft-1.h5" "$WORK/set/ft-2.h5" "$WORK/set/ft-3.h5" "$2"
    cat
  } >"$1"
}
