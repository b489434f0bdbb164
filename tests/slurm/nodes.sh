# shellcheck shell=bash
# Sourced by the multi-node Slurm tests (after common.sh): a Slurm cluster of several nodes on this
# one machine, each node a Linux network namespace of its own, so that its ranks reach the other
# nodes' ranks only over TCP, as on a real cluster. The file system stays shared, as a cluster's
# parallel file system is.
#
#   nodes_start COUNT   a cluster of COUNT nodes n1..nCOUNT; exits 77 (skipped, with the reason)
#                       where namespaces cannot be made (not root, no `ip`, no CAP_NET_ADMIN)
#   on_node NODE CMD... CMD inside NODE's namespaces (to read its interface counters, ...)
#   node_pids NODE      every process of NODE (its slurmd, slurmstepd, orted and ranks)
#   tx_bytes NODE       bytes NODE has sent on its interface
#   lose_node NODE      cuts NODE's link, then kills every process of NODE at once; node_back NODE
#                       brings it back
#
# The network: a namespace holding a bridge, and one namespace per node and one for the controller,
# each joined to the bridge by a veth pair. The addresses (10.18.0.0/24) live only on those veth
# pairs, inside namespaces the test made: the machine's own network never sees a packet, and two
# tests may run at once. Each node also gets a UTS namespace (its hostname is its node name, which
# Open MPI and MPI_Get_processor_name see) and a mount namespace in which the node-local scratch
# directory (Slurm's TmpFS, where PMIx puts a step's files) and /etc/hosts (the cluster's names)
# are the node's own. slurmctld runs in the controller's namespace; the test's Slurm commands
# (sbatch, squeue, ...) run there too, through the functions below.
#
# Teardown: nodes_stop (common.sh's trap runs it on every exit path) stops the daemons, kills
# whatever is left in the namespaces, and deletes them; a namespace holds no process of its own, so
# deleting it frees its veth pair. The daemons run under `timeout` as in cluster.sh.

CLUSTER_STOP=nodes_stop
NODES_PREFIX="mm$$"  # namespace names: unique to this test process
NODES_SUBNET=10.18.0
NODES_CTL_NS=""
NODES_NAMESPACES=()
NODES_COUNT=0
# The interface every node reaches the others by; Open MPI is told to use it and only it.
NODES_IF=mm0

node_ns() { echo "$NODES_PREFIX-$1"; }
node_address() { echo "$NODES_SUBNET.${1#n}"; }

# The Slurm clients reach slurmctld only from inside the cluster's network: from the controller's
# namespace (ip execs the program, not these functions).
for client in squeue scontrol scancel sinfo; do
  eval "$client() { ip netns exec \"\$NODES_CTL_NS\" $client \"\$@\"; }"
done
# Open MPI over TCP between the nodes, on their veth interface only, and shared memory within a
# node (ob1: not UCX, which picks its own transports): in the environment that sbatch hands the job
# (--export=ALL), and srun and mpirun the ranks. Only there: the test's own mpirun runs outside the
# namespaces, where that interface does not exist. The nodes share this machine's few cores:
# waiting ranks yield them rather than spin.
NODES_MPI_ENV=(OMPI_MCA_pml=ob1 OMPI_MCA_btl=tcp,self,vader OMPI_MCA_btl_tcp_if_include=$NODES_IF
               OMPI_MCA_oob_tcp_if_include=$NODES_IF OMPI_MCA_mpi_yield_when_idle=1)
sbatch() { ip netns exec "$NODES_CTL_NS" env "${NODES_MPI_ENV[@]}" sbatch "$@"; }

nodes_can_run() {
  command -v ip >/dev/null 2>&1 || skip "no 'ip' command (iproute2): the multi-node tests need it to make network namespaces"
  command -v unshare >/dev/null 2>&1 || skip "no 'unshare' (util-linux): each node needs its own hostname and scratch mount"
  [ "$(id -u)" -eq 0 ] || skip "network namespaces need root (CAP_NET_ADMIN): run the Slurm tests as root (CI does)"
  local probe="$NODES_PREFIX-probe"
  ip netns add "$probe" 2>/dev/null || skip "cannot create a network namespace here (no CAP_NET_ADMIN, or namespaces disabled)"
  local ok=1
  ip -n "$probe" link add probe0 type veth peer name probe1 2>/dev/null || ok=0
  unshare --uts --mount true 2>/dev/null || ok=2
  ip netns delete "$probe"
  [ $ok = 1 ] || { [ $ok = 0 ] && skip "cannot create veth pairs in a namespace here"; skip "cannot create UTS and mount namespaces here (unshare)"; }
}

# ns_add NAME: a namespace with its loopback up, removed again by cluster_stop.
ns_add() {
  ip netns add "$1" || cluster_fail "ip netns add $1"
  NODES_NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

# ns_join NAME ADDRESS: a veth pair from the bridge to NAME, where it is NODES_IF with ADDRESS.
ns_join() {
  local ns=$1 address=$2 port="p${1##*-}"
  ip -n "$NODES_PREFIX-br" link add "$port" type veth peer name "$NODES_IF" netns "$ns" ||
    cluster_fail "cannot create the veth pair of $ns"
  ip -n "$NODES_PREFIX-br" link set "$port" master br0 up
  ip -n "$ns" addr add "$address/24" dev "$NODES_IF"
  ip -n "$ns" link set "$NODES_IF" up
}

# in_node NODE: sets the array `node_cmd` to the prefix that runs a command in NODE's network
# namespace, with NODE as hostname, the cluster's /etc/hosts and (for a node, not the controller)
# its own scratch directory on TmpFS: bind mounts in a private mount namespace. nsenter, not
# `ip netns exec`, which would mount a fresh /sys without /sys/fs/cgroup (slurmd needs it).
in_node() {
  node_cmd=(nsenter "--net=/var/run/netns/$(node_ns "$1")" unshare --uts --mount --propagation private
    bash -c 'hostname "$1" && mount --bind "$2/hosts" /etc/hosts &&
             { [ "$1" = ctl ] || mount --bind "$2/nodes/$1/tmp" "$2/tmp"; } && shift 2 && exec "$@"'
    in_node "$1" "$CLUSTER_DIR")
}
on_node() { local node=$1; shift; ip netns exec "$(node_ns "$node")" "$@"; }
node_pids() { ip netns pids "$(node_ns "$1")"; }
tx_bytes() { on_node "$1" cat "/sys/class/net/$NODES_IF/statistics/tx_bytes"; }

write_nodes_conf() {
  local dir=$1 count=$2
  local first_job_id=$(( $(shuf -i 1-60000 -n 1) * 1000 ))  # why: cluster.sh, write_slurm_conf
  # Every node claims 4 CPUs and 4000 MB whatever the machine has (config_overrides: slurmd does
  # not drain a node smaller than this): 3 ranks fit on a node without overcommitting, and the
  # memory Slurm grants is the same everywhere the test runs.
  cat >"$dir/slurm.conf" <<EOF
ClusterName=mpimerge-nodes
FirstJobId=$first_job_id
SlurmctldHost=ctl($NODES_SUBNET.100)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
SlurmdTimeout=${SLURMD_TIMEOUT:-300}
MessageTimeout=10
MinJobAge=3600
KillWait=5
InactiveLimit=0
MailProg=/bin/true
NodeName=n[1-$count] CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=test Nodes=n[1-$count] Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
  local node
  {
    echo "127.0.0.1 localhost"
    echo "$NODES_SUBNET.100 ctl"
    for node in $(seq "$count"); do echo "$NODES_SUBNET.$node n$node"; done
  } >"$dir/hosts"
}

declare -A NODES_SLURMD=()  # node -> the pid start_daemon gave its slurmd
start_slurmd() {  # start_slurmd NODE
  in_node "$1"
  start_daemon "slurmd-$1" "${node_cmd[@]}" slurmd -D -N "$1" -f "$SLURM_CONF"
  NODES_SLURMD[$1]=${CLUSTER_PIDS[-1]}
}

# lose_node NODE: NODE as a node that loses power: its link to the others goes down first, so that
# nothing it does afterwards reaches them (a process killed on a live node has its connections
# closed by its kernel, which a dead node's cannot do), then every process of NODE at once
# (SIGKILL); its slurmd leaves the daemons cluster_stop and wait_for watch. node_back NODE: its
# link up again and a new slurmd, as a repaired node.
node_port() { echo "p$(node_ns "$1" | sed 's/.*-//')"; }
lose_node() {
  ip -n "$NODES_PREFIX-br" link set "$(node_port "$1")" down
  node_pids "$1" | xargs -r kill -KILL
  local slurmd=${NODES_SLURMD[$1]} i
  wait "$slurmd" 2>/dev/null || true  # its `timeout` ends with it
  for i in "${!CLUSTER_PIDS[@]}"; do [ "${CLUSTER_PIDS[i]}" != "$slurmd" ] || unset 'CLUSTER_PIDS[i]'; done
  CLUSTER_PIDS=("${CLUSTER_PIDS[@]}")
}

node_back() {
  ip -n "$NODES_PREFIX-br" link set "$(node_port "$1")" up
  start_slurmd "$1"
}

nodes_all_idle() { [ "$(sinfo -h -o '%T %D' | paste -sd ' ')" = "idle $NODES_COUNT" ]; }

nodes_start() {
  NODES_COUNT=$1
  CLUSTER_DIR=$WORK/cluster
  local tool
  for tool in munged slurmctld slurmd setpriv timeout; do
    command -v "$tool" >/dev/null 2>&1 ||
      skip "$tool not found: the Slurm tests need Debian's slurm-wlm and munge packages (scripts/setup.sh installs them)"
  done
  nodes_can_run
  getent passwd munge >/dev/null || skip "no 'munge' user: the munge package is not installed properly"

  mkdir -p "$CLUSTER_DIR"/{munge,state,spool,run,log,tmp}
  chmod 755 "$CLUSTER_DIR"
  chmod 1777 "$CLUSTER_DIR/tmp"
  local node
  for node in $(seq "$NODES_COUNT"); do
    mkdir -p "$CLUSTER_DIR/nodes/n$node/tmp" "$CLUSTER_DIR/spool/n$node"
    chmod 1777 "$CLUSTER_DIR/nodes/n$node/tmp"
  done
  setpriv --reuid=munge --regid=munge --clear-groups test -x "$CLUSTER_DIR" ||
    cluster_fail "the munge user cannot reach $CLUSTER_DIR: set TMPDIR to a directory every user can enter"
  chown munge:munge "$CLUSTER_DIR/munge"
  chmod 711 "$CLUSTER_DIR/munge"
  dd if=/dev/urandom of="$CLUSTER_DIR/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$CLUSTER_DIR/munge/munge.key"
  chmod 400 "$CLUSTER_DIR/munge/munge.key"
  install -o munge -g munge -m 644 /dev/null "$CLUSTER_DIR/log/munged.log"
  write_nodes_conf "$CLUSTER_DIR" "$NODES_COUNT"
  export SLURM_CONF=$CLUSTER_DIR/slurm.conf

  # The network. munged needs none: its socket is a file, reached from every namespace.
  ns_add "$NODES_PREFIX-br"
  ip -n "$NODES_PREFIX-br" link add br0 type bridge
  ip -n "$NODES_PREFIX-br" link set br0 up
  NODES_CTL_NS=$(node_ns ctl)
  ns_add "$NODES_CTL_NS"
  ns_join "$NODES_CTL_NS" "$NODES_SUBNET.100"
  for node in $(seq "$NODES_COUNT"); do
    ns_add "$(node_ns "n$node")"
    ns_join "$(node_ns "n$node")" "$(node_address "n$node")"
  done

  start_daemon munged setpriv --reuid=munge --regid=munge --clear-groups munged --foreground \
    --socket="$CLUSTER_DIR/munge/munge.socket" --key-file="$CLUSTER_DIR/munge/munge.key" \
    --pid-file="$CLUSTER_DIR/munge/munged.pid" --seed-file="$CLUSTER_DIR/munge/munged.seed" \
    --log-file="$CLUSTER_DIR/log/munged.log"
  wait_for 30 "munged's socket" test -S "$CLUSTER_DIR/munge/munge.socket"
  in_node ctl
  start_daemon slurmctld "${node_cmd[@]}" slurmctld -D -c -f "$SLURM_CONF"
  wait_for 60 "slurmctld to answer" scontrol ping
  for node in $(seq "$NODES_COUNT"); do start_slurmd "n$node"; done
  wait_for 60 "$NODES_COUNT nodes to be idle" nodes_all_idle
  make_job_dir
  echo "cluster: Slurm $(scontrol --version | cut -d' ' -f2) up in $CLUSTER_DIR, nodes n1..n$NODES_COUNT in network namespaces $NODES_PREFIX-*"
}


nodes_stop() {
  cluster_stop
  # What the daemons left (ranks of a job that lost its slurmd): every process of the namespaces.
  local ns pid
  for ns in "${NODES_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  for ns in "${NODES_NAMESPACES[@]}"; do
    for _ in $(seq 50); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns delete "$ns" 2>/dev/null || echo "warning: could not delete the namespace $ns" >&2
  done
  NODES_NAMESPACES=()
}

# expect_nodes REPORT BUDGET NODE:RANKS...: the report of a merge on the cluster names these nodes
# with these ranks (NODE:0,1,2), the transport settings the cluster gave Open MPI, and each node's
# budget per rank from its own share. BUDGET: a number of MiB the job gave every rank, or
# per_cpu=MIB (--mem-per-cpu): Slurm grants a node MIB per CPU of the step there, one per rank
# (SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE), and mpimerge's rule takes 70% of that (or of
# the machine's memory or cgroup limit, if smaller), shared by the node's ranks, less 256 MiB (half
# where that is less than twice 256 MiB). The merge ran under the smallest share.
expect_nodes() {
  local report=$1 budget=$2; shift 2
  /usr/bin/python3 - "$JOBDIR/$report" "$budget" "$NODES_IF" "$@" <<'PY' || fail "report $report: nodes"
import json, os, sys
report = json.load(open(sys.argv[1]))
budget, interface, expected = sys.argv[2], sys.argv[3], sys.argv[4:]
memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    try:
        text = open(path).read().split()[0]
    except (OSError, IndexError):
        continue
    if text != "max":
        memory = min(memory, int(text))
        break
def share(ranks):
    if not budget.startswith("per_cpu="):
        return int(budget) << 20
    limit = min(memory, (int(budget[len("per_cpu="):]) * ranks) << 20)
    s = limit // 10 * 7 // ranks
    return s - (256 << 20) if s > 2 * (256 << 20) else s // 2
want = []
for item in expected:
    host, ranks = item.split(":")
    ranks = [int(r) for r in ranks.split(",")]
    want.append({"host": host, "ranks": ranks, "budget_per_rank_from_its_share": share(len(ranks))})
assert report["nodes"] == want, f"nodes {report['nodes']}, expected {want}"
assert report["memory"]["budget_per_rank"] == min(n["budget_per_rank_from_its_share"] for n in want), report["memory"]
settings = {"pml": "ob1", "btl": "tcp,self,vader", "btl_tcp_if_include": interface, "oob_tcp_if_include": interface}
assert report["mpi"]["settings_given"] == settings, report["mpi"]
assert report["mpi"]["library"].startswith("Open MPI v"), report["mpi"]
PY
}
