#include "pipeline/phases.hpp"

#include <algorithm>

#include "mpimerge/util/format.hpp"

namespace mpimerge {

PhaseClock::PhaseClock(const mpi::Comm& comm, std::vector<std::string> names)
    : comm_(comm), names_(std::move(names)), seconds_(names_.size(), 0.0), bytes_(names_.size(), 0) {}

void PhaseClock::add(const std::string& name, std::chrono::steady_clock::time_point start, std::uint64_t bytes) {
  const auto at = static_cast<std::size_t>(std::find(names_.begin(), names_.end(), name) - names_.begin());
  seconds_.at(at) += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bytes_.at(at) += bytes;
}

std::vector<PhaseTiming> PhaseClock::combined() const {
  std::vector<double> seconds = seconds_;
  std::vector<std::int64_t> bytes(bytes_.begin(), bytes_.end());
  comm_.max(std::span<double>(seconds));
  comm_.sum(std::span<std::int64_t>(bytes));
  std::vector<PhaseTiming> out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    PhaseTiming& timing = out.emplace_back();
    timing.name = names_[i];
    timing.seconds = seconds[i];
    timing.bytes = static_cast<std::uint64_t>(bytes[i]);
    // Each rank's own time, in microseconds on the wire: where one rank waits for another.
    for (const std::uint64_t us : comm_.allgather(static_cast<std::uint64_t>(seconds_[i] * 1e6)))
      timing.seconds_per_rank.push_back(static_cast<double>(us) / 1e6);
  }
  return out;
}

std::string phase_line(const PhaseTiming& timing) {
  std::string line = timing.name;
  line.resize(std::max<std::size_t>(line.size() + 1, 8), ' ');
  if (timing.bytes > 0)
    return line + format_bytes(timing.bytes) + " in " + format_seconds(timing.seconds) + " (" +
           format_rate(timing.bytes, timing.seconds) + ")";
  return line + format_seconds(timing.seconds);
}

}  // namespace mpimerge
