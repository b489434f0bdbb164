#pragma once
// The thin RAII layer over MPI. Nothing outside src/mpi and the storage backends touches MPI.
#include <functional>
#include <mpi.h>

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/reductions.hpp"

namespace mpimerge::mpi {

// MPI_Init_thread on construction, MPI_Finalize on destruction.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
};

// What a rank has sent through collectives, for the reports and the benchmark.
struct TrafficStats {
  std::uint64_t collectives = 0;
  std::uint64_t bytes = 0;  // payload bytes this rank contributed
};

class Comm {
 public:
  static Comm world();
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm native() const { return comm_; }  // for the storage backends' MPI-IO handles

  void barrier() const;
  void sum(std::span<std::int64_t> values) const;
  // Rank r receives the sum over ranks 0..r-1 (MPI_Exscan); rank 0 receives zeros.
  void exclusive_prefix_sum(std::span<std::int64_t> values) const;
  void sum(std::span<double> values) const;  // order of addition depends on the MPI library
  void max(std::span<double> values) const;
  void min(std::span<double> values) const;
  void max(std::span<std::uint64_t> values) const;
  void sum(std::span<std::uint64_t> values) const;  // wrapping: checksums add modulo 2^64
  double max(double value) const;
  std::uint64_t sum(std::uint64_t value) const;
  std::uint64_t min(std::uint64_t value) const;
  std::uint64_t max(std::uint64_t value) const;
  std::vector<std::uint64_t> allgather(std::uint64_t value) const;
  // How many ranks of this communicator share this rank's node (its memory).
  int ranks_on_node() const;
  // Every rank's MPI_Get_processor_name (its host), in rank order. Collective.
  std::vector<std::string> processor_names() const;
  bool all(bool value) const;
  void broadcast(std::string& text, int root = 0) const;
  void broadcast(std::vector<std::uint8_t>& bytes, int root = 0) const;

  // Point-to-point transfers between pairs of ranks, all in flight at once (the engine gathers a
  // whole tensor's rows to one rank and sends merged rows back with it). Each rank lists what it
  // sends and receives; between two ranks the k-th message one lists for the other fills the k-th
  // receive the other lists from it, which must have the same size. Messages to this rank itself
  // are copied. Every rank that appears in another's lists must call it.
  struct Outgoing {
    int to = 0;
    std::span<const std::uint8_t> bytes;
  };
  struct Incoming {
    int from = 0;
    std::span<std::uint8_t> bytes;
  };
  void exchange(std::span<const Outgoing> sends, std::span<const Incoming> receives) const;

  // Every rank calls this at the same point with the exception it caught, or nullptr. When any rank
  // failed, every rank throws AgreedError with the message and exit code of the lowest failing
  // rank; otherwise it returns. Call it before each collective phase so no rank waits forever.
  void agree(std::exception_ptr local_error) const;

  // For errors inside collective transfers, where other ranks may already wait in the same call and
  // cannot be asked to agree: prints the message (with this rank) and ends every rank.
  [[noreturn]] void abort(const std::string& message) const;

  const TrafficStats& traffic() const { return traffic_; }

 private:
  explicit Comm(MPI_Comm comm);
  void count(std::size_t bytes) const;
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  mutable TrafficStats traffic_;
};

// The MPI library (the first line of MPI_Get_library_version) and the transport settings it was
// given through the environment (Open MPI's OMPI_MCA_pml, _btl, _btl_tcp_if_include,
// _oob_tcp_if_include; unset ones are left out). What was asked for, not what the library chose:
// Open MPI does not say which of the allowed components carried the messages.
struct TransportSettings {
  std::string library;
  std::vector<std::pair<std::string, std::string>> settings;
};
TransportSettings transport_settings();

// What this run created and must not outlive an abort (a partial output, its journal): abort() runs
// it on the aborting rank before MPI_Abort (the file system is shared, so any rank can remove it).
// One at a time: setting a new one replaces the last; an empty function clears it.
void set_abort_cleanup(std::function<void()> cleanup);

// Runs f on this rank, then agrees with all ranks on whether anyone failed.
template <class F>
void run_agreed(const Comm& comm, F&& f) {
  std::exception_ptr error;
  try {
    f();
  } catch (...) {
    error = std::current_exception();
  }
  comm.agree(error);
}

// Runs f, a collective transfer (reads or writes every rank enters together). Another rank may
// already wait inside it, so a rank-local error cannot be agreed on: it ends every rank with its
// message. An error every rank already agreed on (AgreedError, e.g. from mpi::File) goes on up,
// so that the caller removes what it created and every rank exits with the message.
template <class F>
decltype(auto) run_collective(const Comm& comm, F&& f) {
  try {
    return f();
  } catch (const AgreedError&) {
    throw;
  } catch (const std::exception& e) {
    comm.abort(e.what());
  }
}

// The Reductions that methods see, carried out across the communicator.
class CommReductions final : public Reductions {
 public:
  explicit CommReductions(const Comm& comm) : comm_(comm) {}
  void sum(std::span<std::int64_t> values) override { comm_.sum(values); }
  void exclusive_prefix_sum(std::span<std::int64_t> values) override { comm_.exclusive_prefix_sum(values); }
  void max(std::span<double> values) override { comm_.max(values); }
  void min(std::span<double> values) override { comm_.min(values); }

 private:
  const Comm& comm_;
};

}  // namespace mpimerge::mpi
