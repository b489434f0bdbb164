#include "engine/phases.hpp"

namespace mpimerge {

void PhaseClock::record(const std::string& name, std::chrono::steady_clock::time_point start,
                        const PhaseNote& note) {
  const double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PhaseTiming timing{name, comm_.max(local), comm_.sum(note.bytes)};
  std::string line = name;
  line.resize(std::max<std::size_t>(line.size() + 1, 8), ' ');
  if (timing.bytes > 0)
    line += format_bytes(timing.bytes) + " in " + format_seconds(timing.seconds) + " (" +
            format_rate(timing.bytes, timing.seconds) + ")";
  else
    line += format_seconds(timing.seconds);
  if (!note.detail.empty()) line += ", " + note.detail;
  log_.line(line);
  timings_.push_back(timing);
}

}  // namespace mpimerge
