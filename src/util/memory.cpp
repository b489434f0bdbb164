#include "mpimerge/util/memory.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, separator)) out.push_back(item);
  return out;
}

// mountinfo escapes spaces, tabs, newlines and backslashes in paths as octal ("\040").
std::string unescape(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.size() == 3 && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::optional<std::uint64_t> parse_count(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;  // beyond 2^64: no limit
  }
}

// A mounted cgroup hierarchy that has the memory controller: cgroup v2, or v1 with "memory".
struct Hierarchy {
  bool v2 = false;
  std::string root;   // the cgroup the mount shows at its mount point
  std::string mount;  // where it is mounted
};

// /proc/self/mountinfo: "36 25 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory".
std::vector<Hierarchy> memory_hierarchies(const std::string& mountinfo) {
  std::vector<Hierarchy> out;
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    const std::vector<std::string> f = split(line, ' ');
    const auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
    const std::string& type = *(dash + 1);
    const std::vector<std::string> options = split(*(dash + 3), ',');
    const bool v1_memory = type == "cgroup" && std::find(options.begin(), options.end(), "memory") != options.end();
    if (type == "cgroup2" || v1_memory) out.push_back({type == "cgroup2", unescape(f[3]), unescape(f[4])});
  }
  return out;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

MemorySources MemorySources::of_this_process() {
  MemorySources s;
  s.read_file = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  s.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  s.physical_bytes = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return s;
}

MemoryLimit usable_memory(const MemorySources& sources) {
  MemoryLimit best{sources.physical_bytes, "the node's physical memory"};
  auto consider = [&](std::optional<std::uint64_t> bytes, const std::string& source) {
    if (bytes && *bytes > 0 && *bytes < best.bytes) best = {*bytes, source};
  };
  // This process's cgroups (one line per v1 hierarchy, "0::PATH" for v2), each limit on the way
  // from its own cgroup up to the root of the hierarchy: the smallest one holds.
  const auto cgroups = sources.read_file("/proc/self/cgroup");
  const auto mountinfo = sources.read_file("/proc/self/mountinfo");
  if (cgroups && mountinfo) {
    const std::vector<Hierarchy> hierarchies = memory_hierarchies(*mountinfo);
    std::istringstream lines(*cgroups);
    std::string line;
    while (std::getline(lines, line)) {
      const auto first = line.find(':'), second = first == std::string::npos ? first : line.find(':', first + 1);
      if (second == std::string::npos) continue;
      const std::string id = line.substr(0, first), path = line.substr(second + 1);
      const std::vector<std::string> controllers = split(line.substr(first + 1, second - first - 1), ',');
      const bool v2 = id == "0" && controllers.empty();
      const bool v1_memory = std::find(controllers.begin(), controllers.end(), "memory") != controllers.end();
      if (!v2 && !v1_memory) continue;
      for (const Hierarchy& h : hierarchies) {
        if (h.v2 != v2) continue;
        // The cgroup's path is relative to the hierarchy's root; a mount of a sub-tree (a
        // container's) shows that sub-tree's root at its mount point.
        std::string dir = h.mount;
        if (h.root == "/") dir += path == "/" ? "" : path;
        else if (path.rfind(h.root, 0) == 0) dir += path.substr(h.root.size());
        for (std::string d = dir;; d = parent_of(d)) {
          static const std::vector<std::string> kV2Files{"memory.max", "memory.high"}, kV1Files{"memory.limit_in_bytes"};
          for (const std::string& file : v2 ? kV2Files : kV1Files) {
            const auto text = sources.read_file(d + "/" + file);
            consider(text ? parse_count(*text) : std::nullopt,
                     std::string(v2 ? "cgroup v2 " : "cgroup v1 ") + file + " of " + d);
          }
          if (d.size() <= h.mount.size() || d == "/") break;
        }
      }
    }
  }
  // What Slurm granted the job on this node (MiB), where the environment says.
  auto env = [&](const char* name) {
    const auto text = sources.getenv(name);
    return text ? parse_count(*text) : std::nullopt;
  };
  auto mib = [](std::uint64_t a, std::uint64_t b) -> std::optional<std::uint64_t> {
    if (a == 0 || b == 0 || a > (~std::uint64_t{0} >> 20) / b) return std::nullopt;
    return (a * b) << 20;
  };
  if (const auto per_node = env("SLURM_MEM_PER_NODE"); per_node && *per_node > 0) {
    consider(mib(*per_node, 1), "Slurm's SLURM_MEM_PER_NODE=" + std::to_string(*per_node) + " (MiB)");
  } else if (const auto per_cpu = env("SLURM_MEM_PER_CPU"), cpus = env("SLURM_CPUS_ON_NODE"); per_cpu && cpus) {
    consider(mib(*per_cpu, *cpus), "Slurm's SLURM_MEM_PER_CPU=" + std::to_string(*per_cpu) + " (MiB) x SLURM_CPUS_ON_NODE=" +
                                       std::to_string(*cpus));
  } else if (const auto per_gpu = env("SLURM_MEM_PER_GPU"), gpus = env("SLURM_GPUS_ON_NODE"); per_gpu && gpus) {
    consider(mib(*per_gpu, *gpus), "Slurm's SLURM_MEM_PER_GPU=" + std::to_string(*per_gpu) + " (MiB) x SLURM_GPUS_ON_NODE=" +
                                       std::to_string(*gpus));
  }
  return best;
}

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

}  // namespace mpimerge
