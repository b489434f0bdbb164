#pragma once
// `mpimerge sweep`: every point of a sweep file's grid (job/sweep_file.hpp) merged in one session:
// the inputs are read once for all points' analysis passes and once for all their merges, and
// every point writes its own output and report, plus one CSV row per output.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/job/job.hpp"
#include "mpimerge/job/sweep_file.hpp"
#include "mpimerge/pipeline/summary.hpp"
#include "mpimerge/presentation/log.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

struct SweepOptions {
  std::optional<std::size_t> point;  // run only this grid point (a Slurm array task)
  std::optional<std::uint64_t> memory_budget;
  bool overwrite = false;
  OutputIo output_io = OutputIo::automatic;  // --output-io
  bool allow_nonfinite = false;  // merge inputs holding NaN or infinity (--allow-nonfinite)
  bool quiet = false;
  std::string progress = "auto";
  std::string command_line;
};

struct SweepResult {
  std::vector<MergeSummary> summaries;  // per point run, in grid order
  std::string csv_path;
  double seconds = 0;
};

// Collective. Writes every point's output and report, and the CSV (sweep.csv, or
// sweep-point-N.csv for a single point).
SweepResult run_sweep(const Sweep& sweep, const SweepOptions& options, const mpi::Comm& comm, const Log& log);

}  // namespace mpimerge
