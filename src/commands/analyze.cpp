#include "mpimerge/commands/analyze.hpp"

#include <chrono>
#include <fstream>
#include <iostream>

#include "durability/paths.hpp"
#include "pipeline/targets.hpp"
#include "mpimerge/analysis/stats_output.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

// The inputs must exist and differ, each output's directory exist, and an existing output needs
// --overwrite: the merge's checks, once per output.
void check_paths(const AnalysisJob& job) {
  if (job.json_path.empty() && job.csv_path.empty()) throw UsageError("no output given (--output-prefix, --json or --csv)");
  for (const std::string& output : {job.json_path, job.csv_path}) {
    if (output.empty()) continue;
    MergeJob merge;
    merge.base = job.base;
    merge.models = job.models;
    merge.output = output;
    merge.overwrite = job.overwrite;
    check_job_paths(merge, OutputKind::text);
  }
  if (job.json_path == job.csv_path) throw UsageError("--json and --csv name the same file '" + job.json_path + "'");
}

void write_text(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream out(path + ".partial", std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw Error("cannot write " + path + ".partial");
  if (std::rename((path + ".partial").c_str(), path.c_str()) != 0) throw Error("cannot rename " + path + ".partial");
}

}  // namespace

TaskVectorStats run_analysis(const AnalysisJob& job, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  // The analysis is a merge target without an output: the session runs its passes, nothing else.
  MergeTarget target;
  mpi::run_agreed(comm, [&] {
    if (job.models.empty()) throw UsageError("no models given (--model)");
    if (job.base.empty()) throw UsageError("analyze needs a base model (--base)");
    check_paths(job);
    target.method = std::make_unique<TaskVectorAnalysis>(job.options);
  });
  log.line("mpimerge: analyze " + std::to_string(job.models.size()) + " task vectors against a base, " +
           std::to_string(comm.size()) + (comm.size() == 1 ? " rank" : " ranks"));
  const OpenInputs inputs = open_inputs(job.base, job.models, comm);
  MergeTarget* const targets[] = {&target};
  const PlannedMerge planned = plan_targets(inputs, targets, job.memory_budget, std::nullopt, comm);
  log.line(plan_line(planned));

  Progress progress(Progress::style_for(comm.is_root(), job.quiet, job.progress), std::cout);
  MergeSession session(planned.plan, planned.work, inputs.set, comm, progress);
  session.analyze(targets);
  const TaskVectorStats& stats = static_cast<const TaskVectorAnalysis&>(*target.method).stats();
  for (const auto& p : session.timings())
    if (p.name == "read" || p.name == "select")
      log.line(phase_line(p) + (p.name == "select" ? ", " + std::to_string(stats.passes) + " passes" : ""));
  for (const std::string& line : stats_summary_lines(stats)) log.line("        " + line);

  AnalysisInputs described{job.base, job.models, comm.size(), job.command_line};
  mpi::run_agreed(comm, [&] {
    if (!comm.is_root()) return;
    if (!job.json_path.empty()) write_text(job.json_path, stats_to_json(stats, described).dump(1) + "\n");
    write_text(job.csv_path, stats_to_csv(stats));
  });
  const double seconds = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  std::string outputs = job.json_path;
  if (!job.csv_path.empty()) outputs += (outputs.empty() ? "" : ", ") + job.csv_path;
  log.line("done    " + outputs + " in " + format_seconds(seconds));
  return stats;
}

}  // namespace mpimerge
