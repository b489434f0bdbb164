#!/usr/bin/env bash
# slurm/sweep-array.sbatch on a real single-node Slurm: the shipped job file and grid, as shipped
# (--array=1-4), write each grid point's merge, report and options under a directory named after
# the point, with the bytes of the same merge run directly with mpirun; a task past the grid's end,
# a point that names an output and two points that would share a directory fail with exit code 2.
source "$(dirname "$0")/common.sh"
setup

submit_script sweep-array.sbatch --ntasks=2 --mem=1000M --export=ALL,JOB_ENV=jobs/slurm-sweep.env
expect_job COMPLETED 0:0 4
array=$JOB
points=(
  "method-ties_density-0.1_lambda-1.0|--method ties --density 0.1 --lambda 1.0"
  "method-ties_density-0.2_lambda-1.0|--method ties --density 0.2 --lambda 1.0"
  "method-ties_density-0.2_lambda-1.0_trim-scope-tensor_disjoint-merge-max|--method ties --density 0.2 --lambda 1.0 --trim-scope tensor --disjoint-merge max"
  "method-task_arithmetic_lambda-0.3|--method task_arithmetic --lambda 0.3"
)
for n in 1 2 3 4; do
  name=${points[n - 1]%%|*}
  options=${points[n - 1]#*|}
  dir=out/slurm/sweep/$name
  log=$JOBDIR/mpimerge-sweep-${array}_$n.out
  read -r -a args <<<"$options"
  expect_line "$log" "mpimerge-slurm: grid point $n of 4: $options -> $dir"
  expect_run "$log" srun --mpi=pmix --ntasks=2 --cpus-per-task=1 "$MPIMERGE" merge "${INPUTS[@]}" \
    --output "$dir/merged.h5" --report "$dir/report.json" "${args[@]}" --memory-budget 175MiB
  expect_line "$JOBDIR/$dir/options.txt" "$options"
  expect_report "$dir/report.json" 2 175
  direct merge "${INPUTS[@]}" "${args[@]}" --memory-budget 175MiB --output "direct-$n.h5"
  same_bytes "$dir/merged.h5" "direct-$n.h5"
done
[ "$(find "$JOBDIR/out/slurm/sweep" -mindepth 1 -maxdepth 1 | wc -l)" = 4 ] || fail "not 4 point directories: $(ls "$JOBDIR/out/slurm/sweep")"
echo "sweep-array.sbatch, the shipped grid: ok"

# Array task 5 of a 4-point grid.
submit_script sweep-array.sbatch --array=5 --ntasks=2 --mem=1000M --export=ALL,JOB_ENV=jobs/slurm-sweep.env
expect_job FAILED 2:0
expect_line "$JOBDIR/mpimerge-sweep-${JOB}_5.out" \
  "mpimerge-slurm: error: array task 5: jobs/slurm-sweep-grid.txt has 4 points, numbered 1 to 4 (sbatch --array=1-4)"

# Point 2 collides with point 1 (--density 0.2 and --density=0.2 name the same directory); point 3
# names its own output.
printf '%s\n' '# comment' '--density 0.2' '' '--density=0.2' '--density 0.3 --output x.h5' >"$JOBDIR/bad-grid.txt"
submit_script sweep-array.sbatch --array=2-3 --ntasks=2 --mem=1000M \
  --export=ALL,JOB_ENV=jobs/slurm-sweep.env,GRID=bad-grid.txt,OUTPUT_DIR=out/bad
expect_job FAILED 2:0 2
expect_line "$JOBDIR/mpimerge-sweep-${JOB}_2.out" \
  "mpimerge-slurm: error: grid points 1 and 2 would share the directory density-0.2: make their options differ"
expect_line "$JOBDIR/mpimerge-sweep-${JOB}_3.out" \
  "mpimerge-slurm: error: grid point 3 (--density 0.3 --output x.h5) sets --output: BASE, MODELS and OUTPUT_DIR say where files go"
[ ! -e "$JOBDIR/out/bad" ] || fail "failed grid points created out/bad"
echo "sweep-array.sbatch, errors: ok"
