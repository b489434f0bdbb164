#pragma once
// Progress lines from rank 0, worded to read well in a Slurm log. Other ranks print nothing.
#include <cstdint>
#include <iosfwd>
#include <string>

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

std::string format_bytes(std::uint64_t bytes);         // "1.23 GB", decimal units
std::string format_seconds(double seconds);            // "0.123 s"
std::string format_rate(std::uint64_t bytes, double seconds);  // "2.31 GB/s"
std::string format_number(double value);               // shortest round-trip form

}  // namespace mpimerge
