#pragma once
// How much of the inputs a rank holds at once (one group's slices), and why: the rule of
// docs/performance.md, "The defaults".
//
// Holding every slice in memory reads the inputs once, but fills fresh memory with all of them
// (on the VMs measured, first touch of fresh memory ran at 0.3-0.7 GB/s, slower than the disk);
// streaming in groups of about a hundred MB reuses one set of buffers (util/buffer_pool.hpp) and
// costs a merge that makes analysis passes one more read of the inputs per pass. On a local disk
// that read comes from the page cache; on a parallel or network file system it costs the file
// system's bandwidth again. So: groups sized for throughput, unless the inputs lie on a parallel,
// network or unknown file system and some method passes over the data before it merges; then as
// much as the budget holds, as before. The budget is the cap either way.
//
// A merge smaller than a few throughput groups is cut into kPipelineGroups groups (no smaller than
// kLeastGroupBytes): held as one group, nothing overlaps its read (the next group's readahead is
// what reads ahead while a group is merged), and a rank would hold all of its slices at once.
#include <cstdint>
#include <string>

#include "mpimerge/storage/file_system.hpp"

namespace mpimerge {

// A group's slices per rank when sized for throughput (docs/performance.md, "The defaults"): on
// the 0.55B benchmark groups of 72-126 MiB ran the warm merge fastest and cold no slower than
// 448 MiB (which first-touches more fresh memory: 0.59 against 0.23 GB per rank); much smaller
// groups cost the methods' budget an extra read.
inline constexpr std::uint64_t kThroughputGroupBytes = std::uint64_t{128} << 20;
// How far the file system is asked to read ahead of the group being merged (hints, page cache):
// the inputs' bytes of the groups that follow, up to this, so that a cold read streams in
// requests as large as the former 448 MiB groups made, whatever the group size.
inline constexpr std::uint64_t kReadAheadBytes = std::uint64_t{448} << 20;

// The fewest groups a merge is cut into when sized for throughput, and the smallest group it is
// cut into for that.
inline constexpr std::uint64_t kPipelineGroups = 4;
inline constexpr std::uint64_t kLeastGroupBytes = std::uint64_t{64} << 20;

struct WorkingSet {
  std::uint64_t group_bytes = 0;  // the most one group's slices may hold per rank
  std::string reason;             // for the log and the report
};

// slices_limit: what the budget leaves for slices (the cap); analysis_passes: whether some
// target's method reads the data before its merge pass; inputs: the inputs' file system (the
// least local one, when they lie on several); merge_slices: a rank's slices of the whole merge
// (slices_per_rank in work_plan.hpp).
WorkingSet choose_working_set(std::uint64_t slices_limit, bool analysis_passes, const storage::FileSystem& inputs,
                              std::uint64_t merge_slices);

}  // namespace mpimerge
