#pragma once
// How much of the inputs a rank holds at once (one group's slices), and why: the rule of
// docs/performance.md, "The defaults".
//
// Holding every slice in memory reads the inputs once, but fills fresh memory with all of them
// (on the VMs measured, first touch of fresh memory ran at 0.3-0.7 GB/s, slower than the disk);
// streaming in groups of a few MB reuses one set of buffers (util/buffer_pool.hpp) and
// costs a merge that makes analysis passes one more read of the inputs per pass. On a local disk
// that read comes from the page cache; on a parallel or network file system it costs the file
// system's bandwidth again. So: groups sized for throughput, unless the inputs lie on a parallel,
// network or unknown file system and some method passes over the data before it merges; then as
// much as the budget holds, as before. The budget is the cap either way.
#include <cstdint>
#include <string>

#include "mpimerge/storage/file_system.hpp"

namespace mpimerge {

// A group's slices per rank when sized for throughput (docs/performance.md, "The defaults"): on
// the 0.55B benchmark groups of 8-16 MiB ran the warm merge fastest of 4-128 MiB and cold no slower
// (each rank first-touches less fresh memory: with the smaller TIES sample, 0.08 against 0.22 GB
// per rank at 128 MiB).
// Smaller groups write their outputs in pieces under DirectFile::kSmallWriteBytes, which go
// through the page cache (4 MiB groups: a write phase of 4 s instead of 0.3 s).
inline constexpr std::uint64_t kThroughputGroupBytes = std::uint64_t{16} << 20;
// How far the file system is asked to read ahead of the group being merged (hints, page cache):
// the inputs' bytes of the groups that follow, up to this, so that a cold read streams in
// requests as large as the former 448 MiB groups made, whatever the group size.
inline constexpr std::uint64_t kReadAheadBytes = std::uint64_t{448} << 20;

struct WorkingSet {
  std::uint64_t group_bytes = 0;  // the most one group's slices may hold per rank
  std::string reason;             // for the log and the report
};

// slices_limit: what the budget leaves for slices (the cap); analysis_passes: whether some
// target's method reads the data before its merge pass; inputs: the inputs' file system (the
// least local one, when they lie on several).
WorkingSet choose_working_set(std::uint64_t slices_limit, bool analysis_passes, const storage::FileSystem& inputs);

}  // namespace mpimerge
