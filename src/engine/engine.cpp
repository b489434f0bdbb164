#include "mpimerge/engine/engine.hpp"

#include <chrono>
#include <iostream>

#include "engine/targets.hpp"

namespace mpimerge {
namespace {

std::string describe_job(const MergeJob& job, int ranks) {
  const MethodOptions& m = job.method;
  std::string params;
  if (m.method == "ties")
    params = " (density " + format_number(m.density) + ", lambda " + format_number(m.lambda) +
             ", trim scope " + to_string(m.trim_scope) + ", " + to_string(m.disjoint_merge) + ")";
  else if (m.method == "task_arithmetic")
    params = " (lambda " + format_number(m.lambda) + ")";
  return "mpimerge: " + m.method + params + " of " + std::to_string(job.models.size()) + " models" +
         (job.base ? " onto a base" : "") + ", " + std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks");
}

}  // namespace

std::string report_path_for(const MergeJob& job) {
  if (!job.report_path.empty()) return job.report_path;
  std::string out = job.output;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + ".report.json";
}

MergeSummary run_merge(const MergeJob& job, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  MergeTarget target = prepare_target(job, comm);
  log.line(describe_job(job, comm.size()));
  const OpenInputs inputs = open_inputs(job.base, job.models, comm);
  MergeTarget* const targets[] = {&target};
  const PlannedMerge planned = plan_targets(inputs, targets, job.memory_budget, job.out_dtype, comm);
  log.line(plan_line(planned));
  open_output(target, planned.plan, comm);

  Progress progress(Progress::style_for(comm.is_root(), job.quiet, job.progress), std::cout);
  MergeSession session(planned.plan, planned.work, inputs.set, comm, progress);
  session.analyze(targets);
  session.merge_and_write(targets);
  target.pending->commit();

  MergeSummary summary = summarize(target, planned, input_checksums(session, planned, inputs), session, started, comm);
  log_summary(log, summary);
  report_target(target, summary, comm);
  return summary;
}

}  // namespace mpimerge
