#pragma once
// Progress lines from rank 0, worded to read well in a Slurm log. Other ranks print nothing.
#include <cstdint>
#include <iosfwd>
#include <string>

#include "mpimerge/util/format.hpp"

namespace mpimerge {

class Log {
 public:
  Log(bool is_root, bool quiet, std::ostream& out) : enabled_(is_root && !quiet), out_(out) {}
  void line(const std::string& text) const;
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  std::ostream& out_;
};

}  // namespace mpimerge
