#pragma once
// What this process and its node have of memory.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace mpimerge {

// Memory this process may use, and what says so.
struct MemoryLimit {
  std::uint64_t bytes = 0;
  std::string source;  // "the node's physical memory", "cgroup v2 memory.max of /sys/fs/cgroup/job", ...
};

// Where the limits are read from: the real files and environment, or a test's.
struct MemorySources {
  std::function<std::optional<std::string>(const std::string& path)> read_file;  // whole text, or nullopt
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  std::uint64_t physical_bytes = 0;
  static MemorySources of_this_process();
};

// The smallest of: the node's physical memory; the memory limit of this process's own cgroup and
// of each of its ancestors up to the hierarchy's root (cgroup v2 memory.max and memory.high, v1
// memory.limit_in_bytes; the cgroup found through /proc/self/cgroup and /proc/self/mountinfo, so
// inside a Slurm job or a container, not the root cgroup's); and the memory Slurm granted the job
// on this node (SLURM_MEM_PER_NODE, else SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE, else
// SLURM_MEM_PER_GPU x SLURM_GPUS_ON_NODE; in MiB, as Slurm counts).
MemoryLimit usable_memory(const MemorySources& sources = MemorySources::of_this_process());
inline std::uint64_t usable_memory_bytes() { return usable_memory().bytes; }

// The high-water mark of this process's resident set (getrusage), in bytes.
std::uint64_t peak_rss_bytes();

}  // namespace mpimerge
