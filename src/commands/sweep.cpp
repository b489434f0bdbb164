#include "mpimerge/commands/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "pipeline/targets.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

double finding(const MergeSummary& s, const std::string& key) {
  for (const auto& f : s.findings)
    if (f.key == key) return f.value;
  return std::nan("");
}

std::string cell(double v) { return std::isnan(v) ? "" : format_number(v); }

// RFC 4180: a cell holding a comma, a quote or a line break is quoted, its quotes doubled.
std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// One row per output: the parameters its method used (a column per parameter any point's method
// used, empty where a method has no such parameter), what the method found, where it is, what it
// cost.
void write_csv(const std::string& path, const std::vector<const SweepPoint*>& points,
               const std::vector<MergeSummary>& summaries, std::size_t models) {
  std::vector<std::string> columns;
  for (const MergeSummary& s : summaries)
    for (const UsedParameter& u : s.method_parameters)
      if (std::find(columns.begin(), columns.end(), u.name) == columns.end()) columns.push_back(u.name);
  std::ofstream out(path);
  out << "point,method";
  for (const auto& c : columns) out << ',' << c;
  for (std::size_t t = 0; t < models; ++t) out << ",kept_fraction_task" << t;
  out << ",sign_conflict_rate,output,seconds,total_seconds\n";
  for (std::size_t i = 0; i < points.size(); ++i) {
    const MergeSummary& s = summaries[i];
    out << csv_cell(points[i]->name) << ',' << s.method;
    for (const auto& c : columns) {
      const auto used = std::find_if(s.method_parameters.begin(), s.method_parameters.end(), [&](const UsedParameter& u) { return u.name == c; });
      out << ',' << (used == s.method_parameters.end() ? std::string() : csv_cell(used->text));
    }
    for (std::size_t t = 0; t < models; ++t) out << ',' << cell(finding(s, "task " + std::to_string(t) + " kept fraction"));
    out << ',' << cell(finding(s, "kept entries whose sign lost the election")) << ',' << csv_cell(s.output) << ','
        << format_number(s.target_seconds) << ',' << format_number(s.seconds) << '\n';
  }
  if (!out) throw Error("cannot write " + path);
}

}  // namespace

SweepResult run_sweep(const Sweep& sweep, const SweepOptions& options, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<const SweepPoint*> points;
  mpi::run_agreed(comm, [&] {
    if (options.point && *options.point >= sweep.points.size())
      throw UsageError("--point " + std::to_string(*options.point) + ": the grid has " +
                       std::to_string(sweep.points.size()) + " points (0.." + std::to_string(sweep.points.size() - 1) + ")");
  });
  if (options.point) points.push_back(&sweep.points[*options.point]);
  else
    for (const auto& p : sweep.points) points.push_back(&p);

  std::vector<MergeTarget> targets;
  targets.reserve(points.size());
  for (const SweepPoint* p : points) {
    MergeJob job = p->job;
    job.overwrite = options.overwrite;
    job.output_io = options.output_io;
    job.quiet = options.quiet;
    job.command_line = options.command_line + (options.point ? "" : " (grid point " + p->name + ")");
    if (options.memory_budget) job.memory_budget = options.memory_budget;
    targets.push_back(prepare_target(job, comm));
  }
  std::vector<MergeTarget*> pointers;
  for (auto& t : targets) pointers.push_back(&t);
  const MergeJob& common = targets.front().job;
  log.line("mpimerge: sweep of " + std::to_string(points.size()) + " merges of " + std::to_string(common.models.size()) +
           " models, " + std::to_string(comm.size()) + " ranks, into " + sweep.output_dir);
  // Side inputs are read once for every point whose method takes them (the sweep file gives one set).
  SideInputPaths side;
  for (const auto& t : targets)
    if (!t.side_inputs.aligned.empty() || !t.side_inputs.matrices.empty()) side = t.side_inputs;
  const OpenInputs inputs = open_inputs(common.base, common.models, comm, side);
  const PlannedMerge planned = plan_targets(inputs, pointers, common.memory_budget, common.out_dtype, comm);
  log.line(plan_line(planned));
  for (auto& t : targets) open_output(t, planned.plan, comm, log);

  Progress progress(Progress::style_for(comm.is_root(), options.quiet, options.progress), std::cout);
  MergeSession session(planned.plan, planned.work, inputs.set, comm, progress);
  session.allow_nonfinite(options.allow_nonfinite);
  session.analyze(pointers);
  session.merge_and_write(pointers);
  inputs.pins.check(comm);  // no input changed while it was read

  SweepResult result;
  const auto checksums = input_checksums(session, planned, inputs);
  for (auto& t : targets) {
    result.summaries.push_back(summarize(t, planned, checksums, session, started, comm));
    commit_target(t, result.summaries.back(), comm);  // its report, then output and report renamed
    log.line("wrote   " + t.job.output + " in " + format_seconds(result.summaries.back().target_seconds) + " of its own");
  }
  const MergeSummary& any = result.summaries.front();
  for (const auto& p : any.phases) log.line(phase_line(p));
  result.csv_path = (std::filesystem::path(sweep.output_dir) /
                     (options.point ? "sweep-point-" + std::to_string(*options.point) + ".csv" : "sweep.csv"))
                        .string();
  mpi::run_agreed(comm, [&] {
    if (comm.is_root()) write_csv(result.csv_path, points, result.summaries, common.models.size());
  });
  result.seconds = any.seconds;
  log.line("done    " + std::to_string(points.size()) + " outputs in " + format_seconds(result.seconds) + ", " +
           std::to_string(any.data_reads) + " reads of the inputs; " + result.csv_path);
  return result;
}

}  // namespace mpimerge
