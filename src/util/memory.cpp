#include "mpimerge/util/memory.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

// A cgroup limit if one is set: v2 memory.max, else v1 memory.limit_in_bytes ("max" or huge: none).
std::uint64_t cgroup_limit() {
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text == "max") continue;
    try {
      return std::stoull(text);
    } catch (const std::exception&) {
    }
  }
  return ~std::uint64_t{0};
}

}  // namespace

std::uint64_t usable_memory_bytes() {
  const auto pages = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES));
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return std::min(pages * page, cgroup_limit());
}

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

std::uint64_t parse_memory_size(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw UsageError("'" + text + "' is not a memory size (e.g. 512M, 4G)");
  }
  std::string unit = text.substr(used);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const char* suffix : {"IB", "B"})
    if (unit.size() > std::string(suffix).size() && unit.ends_with(suffix)) {
      unit.resize(unit.size() - std::string(suffix).size());
      break;
    }
  double scale = 1;
  if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1024.0 * 1024;
  else if (unit == "G") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") throw UsageError("'" + text + "' is not a memory size (e.g. 512M, 4G)");
  if (!(value > 0)) throw UsageError("memory size '" + text + "' must be positive");
  // Converting a double at or above 2^64 (or infinity) to uint64 is undefined behaviour (found by
  // fuzz/sweep_config_fuzzer.cpp: "memory_budget: 1111...1G").
  if (!(value * scale < 18446744073709551616.0)) throw UsageError("memory size '" + text + "' is too large");
  return static_cast<std::uint64_t>(value * scale);
}

}  // namespace mpimerge
