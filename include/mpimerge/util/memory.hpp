#pragma once
// What this process and its node have of memory, and sizes as users write them.
#include <cstdint>
#include <string>

namespace mpimerge {

// Physical memory this process may use: the node's RAM, or less where a cgroup (a Slurm job's
// --mem, a container) limits it.
std::uint64_t usable_memory_bytes();

// The high-water mark of this process's resident set (getrusage), in bytes.
std::uint64_t peak_rss_bytes();

// "512M", "4G", "1.5GiB", "2TB", "1000000": bytes. K, M, G, T are powers of 1024 (as memory is
// counted; "GB" too). Throws UsageError on anything else.
std::uint64_t parse_memory_size(const std::string& text);

}  // namespace mpimerge
