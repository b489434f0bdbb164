#include "mpimerge/engine/engine.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "engine/inputs.hpp"
#include "engine/paths.hpp"
#include "engine/report.hpp"
#include "engine/session.hpp"
#include "mpimerge/checksum.hpp"
#include "mpimerge/engine/plan.hpp"
#include "mpimerge/engine/work_plan.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/util/counter_rng.hpp"
#include "mpimerge/util/memory.hpp"

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

// A whole input's checksum from its tensors' (name-keyed, so independent of their order).
std::uint64_t fold_checksums(const MergePlan& plan, const std::vector<std::uint64_t>& per_tensor) {
  std::uint64_t sum = 0;
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) sum += mix64(per_tensor[t] + hash_name(plan.tensors[t].output.name));
  return mix64(sum ^ plan.tensors.size());
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
  MergeSummary summary;
  summary.method = job.method.method;
  summary.ranks = comm.size();
  summary.output = job.output;

  MergeTarget target;
  target.job = job;
  mpi::run_agreed(comm, [&] {
    target.method = make_method(job.method);
    if (job.models.empty()) throw UsageError("no models given (--model)");
    if (target.method->needs_base() && !job.base)
      throw UsageError(job.method.method + " needs a base model (--base)");
    target.output = output_spec_for(job);
    check_job_paths(job);
  });
  log.line(describe_job(job, comm.size()));

  OpenInputs inputs = open_inputs(job.base, job.models, comm);
  MergePlan plan;
  WorkPlan work;
  summary.memory_budget = memory_budget(job.memory_budget, comm);
  mpi::run_agreed(comm, [&] {
    plan = plan_merge(inputs.set, job.out_dtype);
    // An eighth of the budget for what a method keeps beyond the slices (selection candidates).
    plan.shape.method_memory = summary.memory_budget / 8;
    target.method->start(plan.shape);
    work = make_work_plan(plan, comm.size(), summary.memory_budget - plan.shape.method_memory);
  });
  summary.tensors = plan.tensors.size();
  summary.merged_tensors = plan.shape.tensors.size();
  summary.copied_tensors = summary.tensors - summary.merged_tensors;
  summary.parameters = plan.shape.total_elements();
  summary.groups = work.groups.size();
  log.line("plan    " + std::to_string(summary.tensors) + " tensors (" + std::to_string(summary.merged_tensors) +
           " merged, " + std::to_string(summary.copied_tensors) + " copied), " +
           format_number(static_cast<double>(summary.parameters)) + " parameters per model");
  if (work.streaming())
    log.line("stream  the slices exceed the memory budget of " + format_bytes(summary.memory_budget) +
             " per rank: " + std::to_string(work.groups.size()) + " groups, inputs read once per pass");

  target.pending = std::make_unique<PendingOutput>(job.output, comm);
  mpi::run_agreed(comm, [&] {
    target.writer = storage::create_checkpoint(target.pending->path(), target.output, plan.output_tensors(), comm);
  });

  Progress progress(Progress::style_for(comm.is_root(), job.quiet, job.progress), std::cout);
  MergeSession session(plan, work, inputs.set, comm, progress);
  MergeTarget* const targets[] = {&target};
  session.analyze(targets);
  session.merge_and_write(targets);
  target.pending->commit();

  summary.analysis_passes = target.analysis_passes;
  summary.phases = session.timings();
  summary.data_reads = session.data_reads();
  summary.findings = target.method->findings();
  for (const auto& p : summary.phases) {
    if (p.name == "read") summary.bytes_read = p.bytes;
    if (p.name == "write") summary.bytes_written = p.bytes;
  }
  const auto input_sums = session.input_checksums();
  for (std::size_t i = 0; i < inputs.set.readers.size(); ++i)
    summary.inputs.push_back({inputs.set.readers[i]->path(), fold_checksums(plan, input_sums[i])});
  for (std::size_t t = 0; t < plan.tensors.size(); ++t)
    summary.output_checksums.emplace_back(plan.tensors[t].output.name, target.checksums[t]);
  summary.reduction_bytes_per_rank = static_cast<std::uint64_t>(comm.max(static_cast<double>(comm.traffic().bytes)));
  summary.peak_rss = comm.allgather(peak_rss_bytes());
  summary.seconds = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  for (const auto& p : summary.phases)
    if (p.name != "select" || summary.analysis_passes > 0)
      log.line(phase_line(p) + (p.name == "select" ? ", " + std::to_string(summary.analysis_passes) + " passes" : ""));
  for (const auto& f : summary.findings) log.line("        " + f.key + " " + format_number(f.value));
  log.line("done    " + job.output + " in " + format_seconds(summary.seconds) + ", peak memory " +
           format_bytes(*std::max_element(summary.peak_rss.begin(), summary.peak_rss.end())) + " per rank");
  if (job.report) {
    summary.report_path = report_path_for(job);
    mpi::run_agreed(comm, [&] {
      if (comm.is_root()) write_report(summary.report_path, job, summary);
    });
  }
  return summary;
}

}  // namespace mpimerge
