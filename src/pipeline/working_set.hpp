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
// the 0.55B benchmark (2 ranks) groups of 4-8 MiB ran the warm merge fastest, once outputs of
// 128 KiB and more went direct (DirectFile::kSmallWriteBytes; before, 4 MiB groups wrote their
// pieces through the page cache: a write phase of 4 s): medians of 8 interleaved runs 3.43 s
// (8 MiB) and 3.32 s (4 MiB) against 3.79 s (16 MiB). 8 rather than 4: half the groups, so half
// the per-group collectives where those cost more (parallel file systems, many small tensors).
inline constexpr std::uint64_t kThroughputGroupBytes = std::uint64_t{8} << 20;
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
