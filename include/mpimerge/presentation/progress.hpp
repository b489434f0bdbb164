#pragma once
// Progress of a long phase, from rank 0: on a terminal a bar redrawn in place; in a log (a Slurm
// job's output) a line every interval with the phase, tensors done, bytes, rate and time left;
// nothing with --quiet. Other ranks construct it disabled.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace mpimerge {

class Progress {
 public:
  enum class Style { none, lines, bar };
  Progress(Style style, std::ostream& out, std::chrono::seconds line_interval = std::chrono::seconds(15));
  // The style for rank 0 writing to stdout. `requested`: "bar", "lines", "none", or "auto": a bar
  // on a terminal outside a Slurm job, lines otherwise (mpirun gives ranks a terminal even when
  // its own output goes to a file, so under mpirun "auto" cannot always tell; say which).
  static Style style_for(bool is_root, bool quiet, const std::string& requested = "auto");

  // A phase of `total_bytes` over `total_items` tensors (or groups); advance() as they complete.
  void start(const std::string& phase, std::uint64_t total_bytes, std::uint64_t total_items);
  void advance(std::uint64_t bytes, std::uint64_t items = 0);
  void finish();  // clears the bar; a log gets no extra line (the engine prints the phase summary)

 private:
  std::string status(double seconds) const;
  Style style_;
  std::ostream& out_;
  std::chrono::seconds interval_;
  std::string phase_;
  std::uint64_t total_bytes_ = 0, total_items_ = 0, bytes_ = 0, items_ = 0;
  std::chrono::steady_clock::time_point started_, last_;
  bool drawn_ = false;
};

}  // namespace mpimerge
