#pragma once
// The ranks of a job watch each other's liveness, apart from MPI, so that a lost rank ends the job
// within a bounded time instead of leaving the others waiting for it inside a collective.
//
// Why not MPI itself: a node that loses power (or whose network goes) sends nothing, neither FIN
// nor RST; Open MPI 4.1's TCP transport has no keepalive and no timeout, so a rank waiting for a
// message from it waits forever, and the job ends only when the resource manager declares the node
// down (Slurm: SlurmdTimeout, 300 s by default), or at its time limit. ULFM is not in the MPI the
// project builds with, and calling MPI from a second thread would need MPI_THREAD_MULTIPLE.
//
// How: every rank other than 0 keeps one TCP connection of its own to rank 0 (a star; rank 0's
// address comes through one broadcast at start-up). A thread on each side, which never calls MPI
// and does not depend on the main thread's progress (a rank busy for minutes in an SVD or a slow
// write stays alive), sends a few bytes every timeout/6 (at most every 5 s) and reads the other
// side's. A peer is lost when its connection closes without its saying goodbye (its process was
// killed or crashed: seen at once) or when nothing came from it for the timeout (its node or its
// network is gone, or it is stopped). Rank 0 then prints one line naming the lost rank and its
// host, tells every other rank, and all of them exit with code 1 (std::_Exit: no MPI call, no
// cleanup, so a partial output stays for --resume); mpirun or srun --kill-on-bad-exit then end the
// job. When rank 0 itself is lost, every other rank that finds it so prints the line and exits.
// A watcher that was itself not running for half the timeout (the whole job suspended, e.g.
// `scontrol suspend`, or the machine overloaded) starts its peers' clocks afresh instead of
// blaming them.
#include <chrono>
#include <memory>

namespace mpimerge::mpi {

class Comm;

// The silence after which a peer counts as lost: MPIMERGE_PEER_TIMEOUT in seconds (a decimal
// number; 0 turns the watch off), kDefaultPeerTimeout without it. A value that is not a number
// from 0 to 86400 is a usage error.
inline constexpr std::chrono::seconds kDefaultPeerTimeout{60};
std::chrono::milliseconds peer_timeout_from_environment();

class LivenessWatch {
 public:
  // Collective: every rank of comm constructs it at the same point. With one rank or a zero
  // timeout it does nothing. A rank that cannot reach rank 0 makes every rank throw AgreedError.
  LivenessWatch(const Comm& comm, std::chrono::milliseconds timeout);
  // This rank leaves on purpose: says goodbye, so that no peer reports it lost, and stops watching.
  ~LivenessWatch();
  LivenessWatch(const LivenessWatch&) = delete;
  LivenessWatch& operator=(const LivenessWatch&) = delete;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// Leaves the process's watch now, if one runs (Comm::abort, before MPI_Abort ends every rank: the
// aborting rank is not lost, and its own message says why the job ends).
void leave_liveness_watch();

}  // namespace mpimerge::mpi
