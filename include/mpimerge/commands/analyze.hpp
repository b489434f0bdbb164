#pragma once
// `mpimerge analyze`: the statistics of TaskVectorAnalysis over a base and its fine-tunes, computed
// by the merge engine's session (the analysis passes of a merge, and no merge, no output
// checkpoint), then written as JSON and CSV by rank 0.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/analysis/task_vector_stats.hpp"
#include "mpimerge/presentation/log.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

struct AnalysisJob {
  std::string base;
  std::vector<std::string> models;
  AnalysisOptions options;
  std::string json_path;  // "" = no JSON
  std::string csv_path;   // "" = no CSV
  bool overwrite = false;
  std::optional<std::uint64_t> memory_budget;
  bool quiet = false;
  std::string progress = "auto";
  std::string command_line;
};

// Collective. Returns the statistics on every rank.
TaskVectorStats run_analysis(const AnalysisJob& job, const mpi::Comm& comm, const Log& log);

}  // namespace mpimerge
