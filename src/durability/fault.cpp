#include "durability/fault.hpp"

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mpimerge {

namespace {

// MPIMERGE_FAULT = point:count:rank[:run:COMMAND], parsed once; the command is the rest of the text,
// colons and all.
struct FaultSpec {
  std::string point;
  std::uint64_t count = 0;
  int rank = -1;
  std::string action;
  bool valid = false;
};

const FaultSpec& fault_spec() {
  static const FaultSpec spec = [] {
    FaultSpec parsed;
    const char* env = std::getenv("MPIMERGE_FAULT");
    if (!env) return parsed;
    const std::string text = env;
    const auto first = text.find(':');
    const auto second = first == std::string::npos ? first : text.find(':', first + 1);
    if (second == std::string::npos) return parsed;
    const auto third = text.find(':', second + 1);
    try {
      parsed.point = text.substr(0, first);
      parsed.count = std::stoull(text.substr(first + 1, second - first - 1));
      parsed.rank = std::stoi(text.substr(second + 1, third == std::string::npos ? third : third - second - 1));
    } catch (const std::exception&) {
      return FaultSpec{};  // not a fault specification
    }
    parsed.action = third == std::string::npos ? "" : text.substr(third + 1);
    parsed.valid = true;
    return parsed;
  }();
  return spec;
}

}  // namespace

bool fault_armed(const char* point, int rank, std::uint64_t count) {
  const FaultSpec& spec = fault_spec();
  return spec.valid && spec.point == point && spec.count <= count && spec.rank == rank;
}

void fault_point(const char* point, int rank, std::uint64_t count) {
  static bool fired = false;
  if (fired || !fault_armed(point, rank, count)) return;
  fired = true;
  const std::string& action = fault_spec().action;
  if (action.rfind("run:", 0) == 0) {
    // The test's command, waited for; its exit status does not matter here.
    [[maybe_unused]] const int status = std::system(action.substr(4).c_str());
    return;
  }
  // An error this rank alone meets, outside any agreement (the MPI_Abort path's test).
  if (action == "throw") throw std::runtime_error(std::string("fault injected at ") + point);
  std::raise(SIGKILL);
}

}  // namespace mpimerge
