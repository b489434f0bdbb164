#!/usr/bin/env bash
# A node lost in the middle of a multi-node merge (nodes.sh: 2 nodes in network namespaces, 3 ranks
# on n1 and 1 on n2). The rank on n2 stops itself once a tensor is durably written (the fault hook,
# MPIMERGE_FAULT=tensors-done:1:3:stop), and the test then kills every process of n2's namespace:
# its slurmd, slurmstepd and rank, after cutting its link, as a node that loses power: nothing
# from it reaches n1 again, not even its kernel closing the connections. The ranks on n1 end within
# RANKS_END_SECONDS, rank 0 naming the lost rank and host in the job's log (the liveness watch;
# Open MPI alone waits on the silent peer); the job leaves the queue once Slurm declares n2 down
# (SlurmdTimeout: the job's remains wait for the lost node); nothing is at the output path; and
# after n2 comes back, `--resume` in a new allocation writes the bytes of the same merge at 1 rank.
# Through srun --mpi=pmix and through mpirun.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/nodes.sh"
# slurmctld declares a silent node down after SlurmdTimeout: the bound on how long the job's
# remains can wait for the lost node. Short here; the default (300 s) on a real cluster.
SLURMD_TIMEOUT=20
LOSS_SECONDS=${LOSS_SECONDS:-90}  # from the kill to the job gone from the queue, at most
# The ranks' own bound (mpimerge's liveness watch, mpi/liveness.hpp): a peer silent for 8 s is lost,
# and every rank ends. From the loss to no rank left on n1, at most: the timeout, a beat
# (timeout/6), rank 0's farewell (1 s), and slack for a loaded machine; less than SlurmdTimeout, so
# that Slurm ending the job cannot pass for it (without the watch the ranks ended 30-36 s after the
# loss, when Slurm did).
export MPIMERGE_PEER_TIMEOUT=8
RANKS_END_SECONDS=18
nodes_start 2
program=$(basename "$MPIMERGE")

single merge "${INPUTS[@]}" --method ties --density 0.2 --lambda 1.0 --memory-budget 444M --output single.h5

# node_ranks NODE: the pids of NODE's mpimerge ranks.
node_ranks() {
  local pid
  for pid in $(node_pids "$1"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${program:0:15}" ] && echo "$pid"
  done
  return 0
}

# stopped_rank NODE: the pid of NODE's mpimerge rank once it has stopped itself (state T).
stopped_rank() {
  local pid
  for pid in $(node_pids "$1"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${program:0:15}" ] || continue
    [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && { echo "$pid"; return 0; }
  done
  return 1
}

for launcher in srun mpirun; do
  out=out/$launcher
  # 3 ranks on n1, 1 on n2 (nodes_merge_test.sh says how); a budget of 1M makes 4 groups of
  # tensors, so that the merge is stopped with some tensors durable and others not yet written.
  vars=ALL,JOB_ENV=jobs/slurm-merge.env,MEMORY_BUDGET=1M,LAUNCHER=$launcher,LAUNCHER_ARGS=--distribution=plane=3,OUTPUT=$out/merged.h5
  [ $launcher = srun ] || vars=${vars/LAUNCHER_ARGS=--distribution=plane=3,/}
  JOB=$(cd "$JOBDIR" && MPIMERGE_FAULT=tensors-done:1:3:stop submit --no-requeue --nodes=2 --ntasks=4 --ntasks-per-node=3 \
        --mem-per-cpu=1000M --export="$vars,EXTRA_ARGS=--report $out/report.json" "$REPO/slurm/merge-multinode.sbatch")
  deadline=$((SECONDS + JOB_SECONDS))
  until rank=$(stopped_rank n2); do
    [ -n "$(squeue -h -j "$JOB" -o %i)" ] || fail "job $JOB ended before its rank on n2 stopped"
    [ $SECONDS -lt $deadline ] || fail "the rank on n2 did not stop within ${JOB_SECONDS}s"
    sleep 0.5
  done
  [ -f "$JOBDIR/$out/merged.h5.partial.journal" ] || fail "no journal beside the output when n2 stopped"
  # n2 is lost: every process in its namespace, at once.
  lost=$SECONDS
  lose_node n2
  until [ -z "$(node_ranks n1)" ]; do
    [ $((SECONDS - lost)) -le "$RANKS_END_SECONDS" ] || fail "ranks on n1 still ran ${RANKS_END_SECONDS}s after n2 was lost"
    sleep 0.2
  done
  ranks_ended=$((SECONDS - lost))
  wait_job "$JOB" "$LOSS_SECONDS"
  echo "$launcher: the ranks on n1 ended ${ranks_ended}s after n2 was lost, job $JOB left the queue after $((SECONDS - lost))s: $(job_states "$JOB")"
  expect_line "$JOBDIR/mpimerge-$JOB.out" "mpimerge: error (rank 0): rank 3 on n2 is lost: nothing heard from it for 8 s (its node or its network is down, or it is stopped); ending every rank (MPIMERGE_PEER_TIMEOUT=8)"
  state=$(job_states "$JOB")
  [[ $state == *"JobState=COMPLETED "* ]] && fail "job $JOB that lost a node completed: $state"
  [ ! -e "$JOBDIR/$out/merged.h5" ] || fail "$out/merged.h5 exists after the node was lost"
  [ -f "$JOBDIR/$out/merged.h5.partial" ] || fail "no partial output left for --resume"

  # n2 comes back (a repaired node: a new slurmd); the merge resumes in a new allocation.
  node_back n2
  wait_for 90 "n2 to be back" nodes_all_idle
  submit_script merge-multinode.sbatch --nodes=2 --ntasks=4 --ntasks-per-node=3 --mem-per-cpu=1000M \
    --export="$vars,EXTRA_ARGS=--resume --report $out/report.json"
  expect_job COMPLETED 0:0
  same_bytes "$out/merged.h5" single.h5
  /usr/bin/python3 - "$JOBDIR/$out/report.json" <<'PY' || fail "report of the resumed merge"
import json, sys
report = json.load(open(sys.argv[1]))
kept = report["resumed"]["tensors_kept_from_the_interrupted_run"]
assert 1 <= kept < report["output"]["tensors"], f"kept {kept} of {report['output']['tensors']} tensors"
PY
  echo "node loss, $launcher: ok"
done
