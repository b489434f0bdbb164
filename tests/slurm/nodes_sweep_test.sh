#!/usr/bin/env bash
# slurm/sweep.sbatch on a Slurm cluster of 2 nodes in network namespaces (nodes.sh), 3 ranks on n1
# and 1 on n2, through srun --mpi=pmix and through mpirun: a sweep file's grid in one job, the
# inputs read once for all points, each output the bytes of the same sweep at 1 rank.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/nodes.sh"
nodes_start 2

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
sweep_file out/single >"$JOBDIR/single.yaml"
single sweep --config single.yaml
mapfile -t names < <(cd "$JOBDIR" && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  timeout 60 mpirun -n 1 "$MPIMERGE" sweep --config single.yaml --list | awk '{ print $2 }')
[ "${#names[@]}" = 3 ] || fail "expected 3 grid points, got: ${names[*]}"

for launcher in srun mpirun; do
  sweep_file "out/$launcher" >"$JOBDIR/$launcher.yaml"
  vars=ALL,SWEEP=$launcher.yaml,LAUNCHER=$launcher
  [ $launcher = mpirun ] || vars+=,LAUNCHER_ARGS=--distribution=plane=3
  submit_script sweep.sbatch --nodes=2 --ntasks=4 --ntasks-per-node=3 --mem=2000M --export="$vars"
  expect_job COMPLETED 0:0
  log=$JOBDIR/mpimerge-sweep-$JOB.out
  expect_line "$log" "mpimerge-slurm: grid of 3 points, the inputs read once for all"
  # --mem is per node, shared by the most ranks a node runs (3): 666M; 70% of it, 466M, is under
  # twice the 256M reserve: half of it.
  expect_line "$log" "mpimerge-slurm: memory budget: 233MiB per rank (--mem=2000M / 3 ranks on a node = 666M; 70% less 256M)"
  expect_line "$log" "mpimerge-slurm: job $JOB on n1: 4 ranks on 2 node(s), in $JOBDIR"
  grep -qE "^nodes   2: n1 ranks 0-2 .*, n2 rank 3 .*; Open MPI v[0-9.]+, pml ob1, btl tcp,self,vader, " "$log" ||
    fail "$log: no line naming the nodes, their ranks and the transport"
  [ -f "$JOBDIR/out/$launcher/sweep.csv" ] || fail "no out/$launcher/sweep.csv"
  for name in "${names[@]}"; do same_bytes "out/$launcher/$name.h5" "out/single/$name.h5"; done
  echo "sweep.sbatch on 2 nodes, $launcher: ok"
done
