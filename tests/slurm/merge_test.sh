#!/usr/bin/env bash
# slurm/merge.sbatch on a real single-node Slurm: the shipped job file through srun --mpi=pmix and
# through mpirun gives the bytes of the same merge run directly with mpirun; the memory budget comes
# from --mem; a missing variable and an error of mpimerge's own fail the job with exit code 2, ranks
# that never started with exit code 1; an ordinary user (nobody) runs it as root does.
source "$(dirname "$0")/common.sh"
setup

# As README.md shows it: the shipped job file; Slurm here offers PMIx, so the script picks srun.
submit_script merge.sbatch --ntasks=2 --mem=1000M --export=ALL,JOB_ENV=jobs/slurm-merge.env
expect_job COMPLETED 0:0
log=$JOBDIR/mpimerge-$JOB.out
# 1000M / 2 ranks = 500M; 70% of it, 350M, is under twice the 256M reserve: half of it, 175M.
expect_line "$log" "mpimerge-slurm: memory budget: 175MiB per rank (--mem=1000M / 2 ranks on a node = 500M; 70% less 256M)"
expect_run "$log" srun --mpi=pmix --ntasks=2 --cpus-per-task=1 "$MPIMERGE" merge "${INPUTS[@]}" \
  --output out/slurm/merged.h5 --method ties --density 0.2 --lambda 1.0 --memory-budget 175MiB \
  --report out/slurm/merged.report.json
direct merge "${INPUTS[@]}" --method ties --density 0.2 --lambda 1.0 --memory-budget 175MiB --output direct.h5
same_bytes out/slurm/merged.h5 direct.h5
expect_report out/slurm/merged.report.json 2 175
echo "merge.sbatch, srun --mpi=pmix: ok"

# As on a cluster, an ordinary user: nobody submits copies of the script, the job files and the
# program (root's build tree need not be reachable), and the script tells Open MPI nothing about root.
if getent passwd nobody >/dev/null && getent group nogroup >/dev/null; then
  user_dir=$WORK/user
  mkdir -p "$user_dir/bin" "$user_dir/out"
  cp -r "$REPO/jobs" "$user_dir/jobs"
  cp "$REPO/slurm/merge.sbatch" "$MPIMERGE" "$user_dir/bin/"
  ln -s "$JOBDIR/out/checkpoints" "$user_dir/out/checkpoints"
  chown -R nobody:nogroup "$user_dir"
  JOB=$(cd "$user_dir" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
        sbatch --parsable --ntasks=2 --mem=1000M --export=ALL,JOB_ENV=jobs/slurm-merge.env,MPIMERGE=bin/mpimerge bin/merge.sbatch) ||
    fail "sbatch as nobody was refused"
  wait_job "$JOB" "$JOB_SECONDS"
  expect_job COMPLETED 0:0
  [[ $(scontrol -o show job "$JOB") == *" UserId=nobody("* ]] || fail "job $JOB did not run as nobody"
  cmp "$user_dir/out/slurm/merged.h5" "$JOBDIR/direct.h5" || fail "nobody's merge differs from direct.h5"
  echo "merge.sbatch as an ordinary user: ok"
else
  echo "merge.sbatch as an ordinary user: not tested, this machine has no user nobody and group nogroup"
fi

# mpirun, every variable from the environment (over the job file's), an explicit memory budget so
# small that the merge streams its inputs in groups, and --overwrite of the first job's output.
submit_script merge.sbatch --ntasks=2 --mem=1000M \
  --export=ALL,JOB_ENV=jobs/slurm-merge.env,LAUNCHER=mpirun,MEMORY_BUDGET=3MiB,METHOD_ARGS="--method ties --density 0.3 --lambda 0.7 --trim-scope tensor",EXTRA_ARGS="--overwrite --report out/slurm/mpirun.report.json"
expect_job COMPLETED 0:0
log=$JOBDIR/mpimerge-$JOB.out
expect_line "$log" "mpimerge-slurm: memory budget: 3MiB per rank"
expect_run "$log" mpirun -n 2 "$MPIMERGE" merge "${INPUTS[@]}" --output out/slurm/merged.h5 \
  --method ties --density 0.3 --lambda 0.7 --trim-scope tensor --memory-budget 3MiB --overwrite --report out/slurm/mpirun.report.json
direct merge "${INPUTS[@]}" --method ties --density 0.3 --lambda 0.7 --trim-scope tensor --memory-budget 3MiB --output direct-2.h5
same_bytes out/slurm/merged.h5 direct-2.h5
expect_report out/slurm/mpirun.report.json 2 3
echo "merge.sbatch, mpirun: ok"

# No job file and no BASE: the script stops before any launch, with exit code 2.
submit_script merge.sbatch --ntasks=2 --mem=1000M --export=ALL,MODELS=out/checkpoints/ft-1.h5,OUTPUT=x.h5
expect_job FAILED 2:0
expect_line "$JOBDIR/mpimerge-$JOB.out" \
  "mpimerge-slurm: error: BASE is not set (sbatch --export=ALL,BASE=..., or JOB_ENV=FILE; see the top of this script)"
[ ! -e "$JOBDIR/x.h5" ] || fail "a failed job wrote x.h5"

# mpimerge's own usage error (a density out of range) reaches the job's exit code through srun.
submit_script merge.sbatch --ntasks=2 --mem=1000M \
  --export=ALL,JOB_ENV=jobs/slurm-merge.env,OUTPUT=out/bad/merged.h5,METHOD_ARGS="--density 0"
expect_job FAILED 2:0
grep -q '^mpimerge: error: .*density' "$JOBDIR/mpimerge-$JOB.out" || fail "no error about the density in the log"
[ ! -e "$JOBDIR/out/bad/merged.h5" ] || fail "a failed merge wrote its output"

# Slurm 22.05's srun exits 0 when it cannot start the ranks; the job must fail all the same. A
# directory already where PMIx puts the step's files (as when two clusters shared /tmp) stops the
# launch: spmix_appdir_UID_JOB.STEP in TmpFS (22.05's name; older Slurm leaves out the UID).
JOB=$(cd "$JOBDIR" && submit --hold --ntasks=2 --mem=1000M \
  --export=ALL,JOB_ENV=jobs/slurm-merge.env,OUTPUT=out/unlaunched/merged.h5 "$REPO/slurm/merge.sbatch")
mkdir "$WORK/cluster/tmp/spmix_appdir_$(id -u)_$JOB.0" "$WORK/cluster/tmp/spmix_appdir_$JOB.0"
scontrol release "$JOB"
wait_job "$JOB" "$JOB_SECONDS"
expect_job FAILED 1:0
expect_line "$JOBDIR/mpimerge-$JOB.out" \
  "mpimerge-slurm: error: srun exited 0 but did not write out/unlaunched/merged.h5: the ranks did not run (see its messages above)"
echo "merge.sbatch, errors: ok"
