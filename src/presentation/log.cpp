#include "mpimerge/presentation/log.hpp"

#include <ostream>

namespace mpimerge {

void Log::line(const std::string& text) const {
  if (enabled_) out_ << text << '\n' << std::flush;
}

}  // namespace mpimerge
