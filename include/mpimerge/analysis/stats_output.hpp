#pragma once
// TaskVectorStats as JSON (for plots: python/plot_analysis.py) and as one long CSV table (one value
// a row: statistic, task, tensor, level, value), and as the few lines rank 0 prints.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpimerge/analysis/task_vector_stats.hpp"

namespace mpimerge {

struct AnalysisInputs {
  std::string base;
  std::vector<std::string> models;
  int ranks = 1;
  std::string command_line;
};

nlohmann::json stats_to_json(const TaskVectorStats& stats, const AnalysisInputs& inputs);
std::string stats_to_csv(const TaskVectorStats& stats);
// A short table for the log: per task the quantiles and mass shares, per density the conflicts.
std::vector<std::string> stats_summary_lines(const TaskVectorStats& stats);

}  // namespace mpimerge
