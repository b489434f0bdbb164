# shellcheck shell=bash
# Sourced by the Slurm tests: a fresh cluster (cluster.sh) in a temporary directory, a job directory
# laid out like the repository (jobs/ -> the shipped job files, out/checkpoints/ from `mpimerge
# generate`), and assertions on jobs, logs and files.
set -euo pipefail
MPIMERGE=$(realpath "${MPIMERGE:?path to the mpimerge binary}")
export MPIMERGE
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/slurm/cluster.sh
source "$REPO/tests/slurm/cluster.sh"
JOB_SECONDS=${JOB_SECONDS:-240}  # the longest a job may stay in the queue before it counts as hung

# Nothing from a surrounding Slurm job or MPI set-up reaches the jobs: the scripts must set what
# they need themselves (OMPI_ALLOW_RUN_AS_ROOT included).
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC|OMPI|PMIX)_' || true)

umask 022  # the munge user and the test's ordinary user read what root writes here
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpimerge-slurm-test.XXXXXX")
chmod 755 "$WORK"  # the munge user enters it to reach its own directory
JOBDIR=$WORK/job
CLUSTER_STOP=cluster_stop  # the multi-node tests' also deletes their namespaces (nodes.sh)
finish() {
  local status=$?
  "$CLUSTER_STOP"
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
  exit "$status"
}
trap finish EXIT
trap 'exit 143' TERM INT HUP

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$JOBDIR"/*.out; do
    [ -f "$log" ] && { echo "---- $log" >&2; tail -n 25 "$log" >&2; }
  done
  cluster_logs
  exit 1
}
cluster_fail() { fail "$@"; }  # the jobs' logs too

# The cluster, and the job directory with 3 small fine-tunes of a Llama-style base.
setup() {
  cluster_start "$WORK/cluster"
  make_job_dir
}
make_job_dir() {
  mkdir -p "$JOBDIR"
  ln -s "$REPO/jobs" "$JOBDIR/jobs"
  direct generate --output-dir "$JOBDIR/out/checkpoints" --params "${CHECKPOINT_PARAMS:-3M}" --models 3 --dtype bfloat16 --vocab 1001
  INPUTS=(--base out/checkpoints/base.h5 --model out/checkpoints/ft-1.h5 --model out/checkpoints/ft-2.h5
          --model out/checkpoints/ft-3.h5)
}

# direct ARGS...: mpimerge ARGS... under mpirun on 2 ranks in the job directory, outside Slurm.
direct() {
  local root=()
  [ "$(id -u)" -ne 0 ] || root=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
  (cd "$JOBDIR" && env "${root[@]}" timeout 120 mpirun -n 2 --oversubscribe "$MPIMERGE" "$@" --quiet) ||
    fail "mpirun -n 2 mpimerge $* failed"
}

# single ARGS...: mpimerge ARGS... at 1 rank (mpirun -n 1) in the job directory, outside Slurm.
single() {
  local root=()
  [ "$(id -u)" -ne 0 ] || root=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
  (cd "$JOBDIR" && env "${root[@]}" timeout 120 mpirun -n 1 "$MPIMERGE" "$@" --quiet) ||
    fail "mpirun -n 1 mpimerge $* failed"
}

# submit_script SCRIPT SBATCH-ARGS...: submits slurm/SCRIPT from the job directory, waits for it.
submit_script() {
  local script=$1; shift
  JOB=$(cd "$JOBDIR" && submit "$@" "$REPO/slurm/$script")
  wait_job "$JOB" "$JOB_SECONDS"
}

# expect_job STATE EXIT [COUNT]: every record of $JOB (COUNT of them: array tasks) ended so.
expect_job() {
  local state=$1 code=$2 count=${3:-1} states
  states=$(job_states "$JOB")
  [ "$(grep -c . <<<"$states")" = "$count" ] || fail "job $JOB: expected $count record(s), got: $states"
  if grep -v "JobState=$state ExitCode=$code\$" <<<"$states"; then
    fail "job $JOB: expected JobState=$state ExitCode=$code everywhere, got: $states"
  fi
}

expect_line() {  # expect_line FILE LINE: FILE holds LINE, whole
  grep -qxF -- "$2" "$1" || fail "$1 lacks the line: $2"
}

# expect_run LOG COMMAND...: LOG shows that the script ran exactly COMMAND.
expect_run() {
  local log=$1 line; shift
  printf -v line ' %q' "$@"
  expect_line "$log" "mpimerge-slurm: run:$line"
}

same_bytes() {  # same_bytes A B (relative to the job directory)
  [ -f "$JOBDIR/$1" ] || fail "$1 was not written"
  cmp "$JOBDIR/$1" "$JOBDIR/$2" || fail "$1 and $2 differ"
}

# expect_report FILE RANKS BUDGET_MIB: mpimerge's report saw RANKS ranks and that memory budget.
expect_report() {
  /usr/bin/python3 - "$JOBDIR/$1" "$2" "$3" <<'PY' || fail "report $1"
import json, sys
report = json.load(open(sys.argv[1]))
ranks, budget = int(sys.argv[2]), int(sys.argv[3]) << 20
assert report["ranks"] == ranks, f"ranks {report['ranks']}, expected {ranks}"
assert report["memory"]["budget_per_rank"] == budget, f"budget {report['memory']['budget_per_rank']}, expected {budget}"
PY
}
