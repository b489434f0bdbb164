#include "durability/fault.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace mpimerge {

void fault_point(const char* point, int rank, std::uint64_t count) {
  static const char* spec = std::getenv("MPIMERGE_FAULT");
  if (!spec) return;
  const std::string text = spec;
  const auto first = text.find(':'), second = text.find(':', first == std::string::npos ? 0 : first + 1);
  if (first == std::string::npos || second == std::string::npos) return;
  if (text.substr(0, first) != point) return;
  if (std::stoull(text.substr(first + 1, second - first - 1)) > count) return;
  if (std::stoi(text.substr(second + 1)) != rank) return;
  std::raise(SIGKILL);
}

}  // namespace mpimerge
