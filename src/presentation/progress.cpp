#include "mpimerge/presentation/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

std::string duration_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%lld h %02lld min", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(text, sizeof text, "%lld min %02lld s", s / 60, s % 60);
  else std::snprintf(text, sizeof text, "%lld s", s);
  return text;
}

constexpr auto kBarRedraw = std::chrono::milliseconds(200);

}  // namespace

Progress::Progress(Style style, std::ostream& out, std::chrono::seconds line_interval)
    : style_(style), out_(out), interval_(line_interval) {}

Progress::Style Progress::style_for(bool is_root, bool quiet, const std::string& requested) {
  if (!is_root || quiet || requested == "none") return Style::none;
  if (requested == "bar") return Style::bar;
  if (requested == "lines") return Style::lines;
  if (requested != "auto") throw UsageError("--progress '" + requested + "': expected auto, bar, lines or none");
  // A bar only where a person watches rank 0's standard output. Under a launcher that is not known:
  // Open MPI gives ranks a pseudo-terminal even when mpirun's own output goes to a log file, where
  // redrawn bars become lines of '\r' noise. So under mpirun or srun, and in Slurm jobs, lines.
  for (const char* launched : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_JOB_ID"})
    if (std::getenv(launched)) return Style::lines;
  return isatty(STDOUT_FILENO) ? Style::bar : Style::lines;
}

void Progress::start(const std::string& phase, std::uint64_t total_bytes, std::uint64_t total_items) {
  phase_ = phase;
  total_bytes_ = total_bytes;
  total_items_ = total_items;
  bytes_ = items_ = 0;
  started_ = last_ = std::chrono::steady_clock::now();
  drawn_ = false;
}

std::string Progress::status(double seconds) const {
  const double share = total_bytes_ ? static_cast<double>(bytes_) / static_cast<double>(total_bytes_) : 1.0;
  char percent[16];
  std::snprintf(percent, sizeof percent, "%3.0f%%", 100.0 * share);
  std::string text = phase_ + " " + percent + ": " + std::to_string(items_) + " of " + std::to_string(total_items_) +
                     " done, " + format_bytes(bytes_) + " of " + format_bytes(total_bytes_);
  if (seconds > 0 && bytes_ > 0) {
    text += " at " + format_rate(bytes_, seconds);
    if (share > 0 && share < 1) text += ", " + duration_text(seconds * (1 - share) / share) + " left";
  }
  return text;
}

void Progress::advance(std::uint64_t bytes, std::uint64_t items) {
  if (style_ == Style::none) return;
  bytes_ += bytes;
  items_ += items;
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - started_).count();
  if (style_ == Style::bar && now - last_ >= kBarRedraw) {
    const double share = total_bytes_ ? static_cast<double>(bytes_) / static_cast<double>(total_bytes_) : 1.0;
    const int filled = static_cast<int>(share * 30);
    out_ << '\r' << '[' << std::string(static_cast<std::size_t>(filled), '#')
         << std::string(static_cast<std::size_t>(30 - filled), ' ') << "] " << status(seconds) << "   " << std::flush;
    drawn_ = true;
    last_ = now;
  } else if (style_ == Style::lines && now - last_ >= interval_) {
    out_ << "progress " << status(seconds) << '\n' << std::flush;
    last_ = now;
  }
}

void Progress::finish() {
  if (style_ == Style::bar && drawn_) out_ << '\r' << std::string(120, ' ') << '\r' << std::flush;
  drawn_ = false;
}

}  // namespace mpimerge
