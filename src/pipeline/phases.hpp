#pragma once
// Accumulates the engine's phase times and bytes on each rank (a streaming merge enters the same
// phase once per group and pass), then combines them: the slowest rank's time, bytes summed.
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "mpimerge/pipeline/summary.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

class PhaseClock {
 public:
  PhaseClock(const mpi::Comm& comm, std::vector<std::string> names);

  // Rank-local work whose errors f agrees on itself (mpi::run_agreed inside). f returns the bytes
  // it moved on this rank.
  template <class F>
  void local(const std::string& name, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t bytes = f();
    add(name, start, bytes);
  }

  // Collective transfers: another rank may be waiting inside one, so an error cannot be agreed
  // on; it ends the whole job with its message instead. An error the storage layer already agreed
  // on (every rank throws it together, see mpi::File) goes on up, so that the engine removes the
  // partial output and every rank exits with the message.
  template <class F>
  void collective(const std::string& name, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t bytes = mpi::run_collective(comm_, f);
    add(name, start, bytes);
  }

  // Collective: every rank's totals so far, combined.
  std::vector<PhaseTiming> combined() const;

 private:
  void add(const std::string& name, std::chrono::steady_clock::time_point start, std::uint64_t bytes);

  const mpi::Comm& comm_;
  std::vector<std::string> names_;
  std::vector<double> seconds_;
  std::vector<std::uint64_t> bytes_;
};

// "read    4.92 GB in 1.230 s (4.00 GB/s)"
std::string phase_line(const PhaseTiming& timing);

}  // namespace mpimerge
