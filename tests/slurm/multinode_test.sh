#!/usr/bin/env bash
# slurm/merge-multinode.sbatch on a real single-node Slurm (a "multi-node" job of one node is all a
# single machine offers): ranks per node and the memory budget per rank come from the allocation
# (--ntasks-per-node, --mem-per-cpu x --cpus-per-task), through srun --mpi=pmix and through mpirun,
# and the merge has the bytes of the same merge run directly with mpirun.
source "$(dirname "$0")/common.sh"
setup

# As README.md shows it: the shipped job file, 2 ranks on the node, 1000M per CPU.
submit_script merge-multinode.sbatch --nodes=1 --ntasks-per-node=2 --mem-per-cpu=1000M \
  --export=ALL,JOB_ENV=jobs/slurm-merge.env
expect_job COMPLETED 0:0
log=$JOBDIR/mpimerge-$JOB.out
# 70% of 1000M is 700M, over twice the 256M reserve: 700M - 256M = 444M.
expect_line "$log" "mpimerge-slurm: memory budget: 444MiB per rank (--mem-per-cpu=1000M x 1 CPU(s) = 1000M; 70% less 256M)"
expect_run "$log" srun --mpi=pmix --ntasks=2 --cpus-per-task=1 "$MPIMERGE" merge "${INPUTS[@]}" \
  --output out/slurm/merged.h5 --method ties --density 0.2 --lambda 1.0 --memory-budget 444MiB \
  --report out/slurm/merged.report.json
direct merge "${INPUTS[@]}" --method ties --density 0.2 --lambda 1.0 --memory-budget 444MiB --output direct.h5
same_bytes out/slurm/merged.h5 direct.h5
expect_report out/slurm/merged.report.json 2 444
echo "merge-multinode.sbatch, srun --mpi=pmix: ok"

# mpirun; one rank of 2 CPUs per node: the rank gets --mem-per-cpu twice.
submit_script merge-multinode.sbatch --nodes=1 --ntasks-per-node=1 --cpus-per-task=2 --mem-per-cpu=300M \
  --export=ALL,JOB_ENV=jobs/slurm-merge.env,LAUNCHER=mpirun,OUTPUT=out/mpirun/merged.h5,EXTRA_ARGS="--report out/mpirun/report.json"
expect_job COMPLETED 0:0
log=$JOBDIR/mpimerge-$JOB.out
# 2 x 300M = 600M; 70% of it, 420M, is under twice the reserve: half of it, 210M.
expect_line "$log" "mpimerge-slurm: memory budget: 210MiB per rank (--mem-per-cpu=300M x 2 CPU(s) = 600M; 70% less 256M)"
expect_run "$log" mpirun -n 1 "$MPIMERGE" merge "${INPUTS[@]}" --output out/mpirun/merged.h5 \
  --method ties --density 0.2 --lambda 1.0 --memory-budget 210MiB --report out/mpirun/report.json
direct merge "${INPUTS[@]}" --method ties --density 0.2 --lambda 1.0 --memory-budget 210MiB --output direct-2.h5
same_bytes out/mpirun/merged.h5 direct-2.h5
expect_report out/mpirun/report.json 1 210
echo "merge-multinode.sbatch, mpirun: ok"
