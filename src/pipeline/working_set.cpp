#include "pipeline/working_set.hpp"

#include <algorithm>

#include "mpimerge/util/format.hpp"

namespace mpimerge {

WorkingSet choose_working_set(std::uint64_t slices_limit, bool analysis_passes, const storage::FileSystem& inputs) {
  using storage::FileSystemKind;
  const bool rereads_cost = inputs.kind == FileSystemKind::parallel || inputs.kind == FileSystemKind::network ||
                            inputs.kind == FileSystemKind::unknown;
  if (analysis_passes && rereads_cost) {
    const std::string what = inputs.kind == FileSystemKind::parallel ? "a parallel file system"
                             : inputs.kind == FileSystemKind::network ? "a network file system"
                                                                      : "a file system mpimerge does not know";
    return {slices_limit, "as much as the memory budget holds: the inputs are on " + inputs.name + ", " + what +
                              ", where each further pass over them would read them again from it"};
  }
  const std::string passes = analysis_passes
                                 ? "a further pass reads the inputs again from the page cache of " + inputs.name
                                 : std::string("one pass reads the inputs once whatever the groups");
  const std::uint64_t bytes = std::min(slices_limit, kThroughputGroupBytes);
  const std::string size = "groups of at most " + format_bytes(bytes) + " per rank";
  if (bytes < kThroughputGroupBytes) return {bytes, size + ": what the memory budget leaves for slices"};
  return {bytes, size + ", sized for throughput (buffers touched once and reused by every group; the memory budget is "
                        "the cap): " + passes};
}

}  // namespace mpimerge
