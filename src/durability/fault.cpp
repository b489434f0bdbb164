#include "durability/fault.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace mpimerge {

bool fault_armed(const char* point, int rank, std::uint64_t count) {
  static const char* spec = std::getenv("MPIMERGE_FAULT");
  if (!spec) return false;
  const std::string text = spec;
  const auto first = text.find(':'), second = text.find(':', first == std::string::npos ? 0 : first + 1);
  if (first == std::string::npos || second == std::string::npos) return false;
  if (text.substr(0, first) != point) return false;
  if (std::stoull(text.substr(first + 1, second - first - 1)) > count) return false;
  return std::stoi(text.substr(second + 1)) == rank;
}

void fault_point(const char* point, int rank, std::uint64_t count) {
  if (fault_armed(point, rank, count)) std::raise(SIGKILL);
}

}  // namespace mpimerge
