#include "durability/fault.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace mpimerge {

void fault_point(const char* point, int rank, std::uint64_t count) {
  static const char* spec = std::getenv("MPIMERGE_FAULT");
  static bool fired = false;
  if (!spec || fired) return;
  const std::string text = spec;
  // point:count:rank[:run:COMMAND]; the command is the rest of the text, colons and all.
  const auto first = text.find(':');
  const auto second = first == std::string::npos ? first : text.find(':', first + 1);
  if (second == std::string::npos) return;
  const auto third = text.find(':', second + 1);
  if (text.substr(0, first) != point) return;
  try {
    if (std::stoull(text.substr(first + 1, second - first - 1)) > count) return;
    if (std::stoi(text.substr(second + 1, third == std::string::npos ? third : third - second - 1)) != rank) return;
  } catch (const std::exception&) {
    return;  // not a fault specification
  }
  fired = true;
  const std::string action = third == std::string::npos ? "" : text.substr(third + 1);
  if (action.rfind("run:", 0) == 0) {
    // The test's command, waited for; its exit status does not matter here.
    [[maybe_unused]] const int status = std::system(action.substr(4).c_str());
    return;
  }
  std::raise(SIGKILL);
}

}  // namespace mpimerge
