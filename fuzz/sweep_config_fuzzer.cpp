// Fuzzes parse_sweep (the YAML grid file of `mpimerge sweep`). Only mpimerge::Error (a UsageError
// naming the key) may escape: a YAML library exception would end the program without its one-line
// error.
#include <cstdint>
#include <string>

#include "mpimerge/commands/sweep.hpp"
#include "mpimerge/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const mpimerge::Sweep sweep = mpimerge::parse_sweep(text, "fuzz.yaml");
    for (const auto& point : sweep.points) (void)point.job.output.size();
  } catch (const mpimerge::Error&) {
  }
  return 0;
}
