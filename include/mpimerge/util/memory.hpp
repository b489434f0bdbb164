#pragma once
// What this process and its node have of memory.
#include <cstdint>
#include <string>

namespace mpimerge {

// Physical memory this process may use: the node's RAM, or less where a cgroup (a Slurm job's
// --mem, a container) limits it.
std::uint64_t usable_memory_bytes();

// The high-water mark of this process's resident set (getrusage), in bytes.
std::uint64_t peak_rss_bytes();

}  // namespace mpimerge
