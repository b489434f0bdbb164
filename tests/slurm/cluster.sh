# shellcheck shell=bash
# Sourced by the Slurm tests (through common.sh): a real single-node Slurm cluster (munged,
# slurmctld, slurmd from Debian's munge and slurm-wlm packages) living entirely in one directory,
# on ports the kernel picked, so that several tests, and any Slurm or munged already running on
# the machine, can run beside it.
#
#   cluster_start DIR   writes DIR/slurm.conf, starts the daemons, waits until the node is idle and
#                       exports SLURM_CONF; exits 77 (CTest's skip) when Slurm cannot run here (not
#                       installed, not root), and fails with the daemons' logs when it does not start
#   cluster_stop        cancels the jobs, then stops every daemon cluster_start started, by pid
#   submit ARGS...      sbatch --parsable ARGS...; prints the job id
#   wait_job ID SECS    waits until job ID (every task of an array) has left the queue; cancels it
#                       and fails the test if it is still there after SECS
#   job_states ID       one line per job or array task: "JobId=.. [ArrayTaskId=..] JobState=.. ExitCode=.."
#
# The single-node recipe known to run Open MPI jobs: proctrack/linuxproc and task/none (no cgroups),
# select/cons_tres with CR_Core, a partition with OverSubscribe=YES, MpiDefault=none. munged gets
# its own key and socket in DIR (AuthInfo=socket=...), so a system munged is neither needed nor
# touched.

CLUSTER_PIDS=()
CLUSTER_DIR=""

skip() { echo "SKIP: $*" >&2; exit 77; }
# The end of each daemon's log, and what it wrote to stderr before its log file opened.
cluster_logs() {
  local log
  for log in "$CLUSTER_DIR"/log/*.log; do
    [ -s "$log" ] && { echo "---- $log (last 15 lines)" >&2; tail -n 15 "$log" >&2; }
  done
  for log in "$CLUSTER_DIR"/log/*.out; do
    [ ! -s "${log%.out}.log" ] || continue
    grep -qiE 'error|fatal' "$log" 2>/dev/null && { echo "---- $log (errors)" >&2; grep -iE 'error|fatal' "$log" | tail -n 5 >&2; }
  done
  return 0
}
cluster_fail() { echo "FAIL: $*" >&2; cluster_logs; exit 1; }

# Two TCP ports that are free now (the kernel picks them).
free_ports() {
  /usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

# The node's CPUs, topology and memory as slurmd itself detects them (slurmd -C), so that slurmd
# never finds the node smaller than slurm.conf says, which would drain it.
node_hardware() {
  slurmd -C | sed -n 1p | tr ' ' '\n' |
    grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | paste -sd ' '
}

write_slurm_conf() {
  local dir=$1 ctld_port=$2 slurmd_port=$3 hardware=$4
  # Job ids unique on this machine, as they are on a real cluster: Open MPI and PMIx name their
  # session directories and shared-memory segments after the job, so two clusters that both ran a
  # job 1 at once would share them (and crash).
  local first_job_id=$(( $(shuf -i 1-60000 -n 1) * 1000 ))
  cat >"$dir/slurm.conf" <<EOF
ClusterName=mpimerge-test
FirstJobId=$first_job_id
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

# start_daemon NAME COMMAND...: runs a daemon in the foreground, in the background of this shell, so
# that its pid is known exactly (no pid files, no process names). Under `timeout`, so that the
# daemon ends after CLUSTER_LIFETIME seconds even if this shell is killed outright and cluster_stop
# never runs; timeout hands cluster_stop's SIGTERM on to the daemon.
start_daemon() {
  local name=$1; shift
  timeout -k 10 "${CLUSTER_LIFETIME:-900}" "$@" >"$CLUSTER_DIR/log/$name.out" 2>&1 &
  CLUSTER_PIDS+=($!)
}

# wait_for SECS WHAT COMMAND...: polls COMMAND until it succeeds; fails after SECS, or at once when
# a daemon we started has died.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs)) pid
  until "$@" >/dev/null 2>&1; do
    for pid in "${CLUSTER_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || cluster_fail "waiting for $what: a daemon exited"
    done
    [ $SECONDS -lt $deadline ] || cluster_fail "waiting for $what: not after ${secs}s"
    sleep 0.5
  done
}

node_is_idle() { [ "$(sinfo -h -n localhost -o %T)" = idle ]; }

cluster_start() {
  CLUSTER_DIR=$1
  local tool
  for tool in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo setpriv timeout; do
    command -v "$tool" >/dev/null 2>&1 ||
      skip "$tool not found: the Slurm tests need Debian's slurm-wlm and munge packages (scripts/setup.sh installs them)"
  done
  # slurmd starts each job as its owner, which takes root.
  [ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to start jobs: run the Slurm tests as root (CI does)"
  getent passwd munge >/dev/null || skip "no 'munge' user: the munge package is not installed properly"

  mkdir -p "$CLUSTER_DIR"/{munge,state,spool,run,log,tmp}
  chmod 755 "$CLUSTER_DIR"
  chmod 1777 "$CLUSTER_DIR/tmp"  # TmpFS: PMIx puts each step's files there (spmix_appdir_*), which
                                 # in /tmp would clash between clusters that number jobs alike
  setpriv --reuid=munge --regid=munge --clear-groups test -x "$CLUSTER_DIR" ||
    cluster_fail "the munge user cannot reach $CLUSTER_DIR: set TMPDIR to a directory every user can enter"
  # munged wants its key readable by it alone, and every client able to reach its socket.
  chown munge:munge "$CLUSTER_DIR/munge"
  chmod 711 "$CLUSTER_DIR/munge"
  dd if=/dev/urandom of="$CLUSTER_DIR/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$CLUSTER_DIR/munge/munge.key"
  chmod 400 "$CLUSTER_DIR/munge/munge.key"
  install -o munge -g munge -m 644 /dev/null "$CLUSTER_DIR/log/munged.log"

  local ports
  read -r -a ports <<<"$(free_ports)"
  write_slurm_conf "$CLUSTER_DIR" "${ports[0]}" "${ports[1]}" "$(node_hardware)"
  export SLURM_CONF=$CLUSTER_DIR/slurm.conf

  start_daemon munged setpriv --reuid=munge --regid=munge --clear-groups munged --foreground \
    --socket="$CLUSTER_DIR/munge/munge.socket" --key-file="$CLUSTER_DIR/munge/munge.key" \
    --pid-file="$CLUSTER_DIR/munge/munged.pid" --seed-file="$CLUSTER_DIR/munge/munged.seed" \
    --log-file="$CLUSTER_DIR/log/munged.log"
  wait_for 30 "munged's socket" test -S "$CLUSTER_DIR/munge/munge.socket"
  start_daemon slurmctld slurmctld -D -c -f "$SLURM_CONF"
  wait_for 60 "slurmctld to answer" scontrol ping
  start_daemon slurmd slurmd -D -N localhost -f "$SLURM_CONF"
  wait_for 60 "node localhost to be idle" node_is_idle
  echo "cluster: Slurm $(scontrol --version | cut -d' ' -f2) up in $CLUSTER_DIR, node localhost: $(node_hardware)"
}

cluster_stop() {
  [ ${#CLUSTER_PIDS[@]} -gt 0 ] || return 0
  if scontrol ping >/dev/null 2>&1; then
    scancel --full --signal=KILL --user="$(id -un)" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  fi
  # In the reverse order of their start: slurmd, slurmctld, munged.
  local i pid
  for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${CLUSTER_PIDS[i]}
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  CLUSTER_PIDS=()
}

submit() {
  local out
  out=$(sbatch --parsable "$@") || cluster_fail "sbatch $* was refused"
  echo "${out%%;*}"
}

job_states() {
  scontrol -o show job "$1" |
    awk '{ line = ""; for (i = 1; i <= NF; i++) if ($i ~ /^(JobId|ArrayTaskId|JobState|ExitCode)=/) line = line (line ? " " : "") $i; print line }'
}

wait_job() {
  local id=$1 secs=$2
  local deadline=$((SECONDS + secs))
  while [ -n "$(squeue -h -j "$id" -o %i 2>/dev/null)" ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "job $id is still queued or running after ${secs}s:" >&2
      scontrol show job "$id" >&2 || true
      sinfo -R >&2 || true
      scancel --full --signal=KILL "$id" 2>/dev/null || true
      cluster_fail "job $id hung"
    fi
    sleep 0.5
  done
}
