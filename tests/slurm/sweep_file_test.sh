#!/usr/bin/env bash
# slurm/sweep.sbatch on a real single-node Slurm: a sweep file's grid as one job (inputs read once,
# sweep.csv) and as a job array (a point per task, sweep-point-N.csv), each output the bytes of the
# same sweep run directly with mpirun; an array task past the grid's end fails with exit code 2.
source "$(dirname "$0")/common.sh"
setup

sweep_file() {  # sweep_file OUTPUT_DIR: a grid of 3 points over the test's checkpoints
  cat <<YAML
base: out/checkpoints/base.h5
models: [out/checkpoints/ft-1.h5, out/checkpoints/ft-2.h5, out/checkpoints/ft-3.h5]
output_dir: $1
grid:
  method: [ties, task_arithmetic]
  density: [0.1, 0.2]
  lambda: 0.9
YAML
}
sweep_file out/job >"$JOBDIR/job.yaml"
sweep_file out/array >"$JOBDIR/array.yaml"
sweep_file out/direct >"$JOBDIR/direct.yaml"
direct sweep --config direct.yaml
mapfile -t names < <(cd "$JOBDIR" && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  timeout 60 mpirun -n 1 "$MPIMERGE" sweep --config direct.yaml --list | awk '{ print $2 }')
[ "${#names[@]}" = 3 ] || fail "expected 3 grid points, got: ${names[*]}"

submit_script sweep.sbatch --ntasks=2 --mem=1000M --export=ALL,SWEEP=job.yaml
expect_job COMPLETED 0:0
log=$JOBDIR/mpimerge-sweep-$JOB.out
expect_line "$log" "mpimerge-slurm: grid of 3 points, the inputs read once for all"
expect_run "$log" srun --mpi=pmix --ntasks=2 --cpus-per-task=1 "$MPIMERGE" sweep --config job.yaml --memory-budget 175MiB
[ -f "$JOBDIR/out/job/sweep.csv" ] || fail "no out/job/sweep.csv"
for name in "${names[@]}"; do same_bytes "out/job/$name.h5" "out/direct/$name.h5"; done
echo "sweep.sbatch, one job: ok"

submit_script sweep.sbatch --array=0-2 --ntasks=2 --mem=1000M --export=ALL,SWEEP=array.yaml
expect_job COMPLETED 0:0 3
for n in 0 1 2; do
  log=$JOBDIR/mpimerge-sweep-$JOB.out
  [ -f "$JOBDIR/out/array/sweep-point-$n.csv" ] || fail "no out/array/sweep-point-$n.csv"
  same_bytes "out/array/${names[n]}.h5" "out/direct/${names[n]}.h5"
done
echo "sweep.sbatch, a job array: ok"

submit_script sweep.sbatch --array=3 --ntasks=2 --mem=1000M --export=ALL,SWEEP=array.yaml
expect_job FAILED 2:0
grep -qF "mpimerge-slurm: error: array task 3: array.yaml has 3 points, numbered 0 to 2 (sbatch --array=0-2)" "$JOBDIR"/mpimerge-sweep-"$JOB"*.out ||
  fail "array task 3 did not fail with the expected message"
echo "sweep.sbatch, a task past the grid: ok"
