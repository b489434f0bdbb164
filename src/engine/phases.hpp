#pragma once
// Times the engine's phases (slowest rank, bytes summed over ranks) and prints one line for each.
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "mpimerge/engine/engine.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

struct PhaseNote {
  std::uint64_t bytes = 0;  // moved by this rank
  std::string detail;       // appended to the log line
};

class PhaseClock {
 public:
  PhaseClock(const mpi::Comm& comm, const Log& log) : comm_(comm), log_(log) {}

  // Rank-local work whose errors f already agrees on (mpi::run_agreed inside).
  template <class F>
  void local(const std::string& name, F&& f) {
    PhaseNote note;
    const auto start = std::chrono::steady_clock::now();
    f(note);
    record(name, start, note);
  }

  // Collective transfers: another rank may be waiting inside one, so an error cannot be agreed
  // on; it ends the whole job with its message instead.
  template <class F>
  void collective(const std::string& name, F&& f) {
    PhaseNote note;
    const auto start = std::chrono::steady_clock::now();
    try {
      f(note);
    } catch (const std::exception& e) {
      comm_.abort(e.what());
    }
    record(name, start, note);
  }

  const std::vector<PhaseTiming>& timings() const { return timings_; }

 private:
  void record(const std::string& name, std::chrono::steady_clock::time_point start, const PhaseNote& note);

  const mpi::Comm& comm_;
  const Log& log_;
  std::vector<PhaseTiming> timings_;
};

}  // namespace mpimerge
