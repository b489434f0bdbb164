#include "mpimerge/commands/merge.hpp"

#include <chrono>
#include <iostream>

#include "durability/fault.hpp"
#include "durability/journal.hpp"
#include "durability/resume.hpp"
#include "pipeline/targets.hpp"
#include "pipeline/token_rows.hpp"
#include "pipeline/tokenizer.hpp"

namespace mpimerge {
namespace {

// "mpimerge: ties (density 0.2, lambda 1, trim_scope model, disjoint_merge mean) of 3 models onto a
// base, 2 ranks": exactly the parameters the method uses, with the values it uses.
std::string describe_job(const MergeTarget& target, int ranks) {
  const MethodArgs& m = target.method_args;
  const std::string params = describe_parameters(used_parameters(m.params, m.spec->parameters, target.job.models.size()));
  const std::size_t models = target.job.models.size();
  return "mpimerge: " + std::string(m.spec->name) + (params.empty() ? "" : " (" + params + ")") + " of " +
         std::to_string(models) + (models == 1 ? " model" : " models") + (target.job.base ? " onto a base" : "") + ", " +
         std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks");
}

}  // namespace

MergeSummary run_merge(const MergeJob& job, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  MergeTarget target = prepare_target(job, comm);
  log.line(describe_job(target, comm.size()));
  for (const std::string& note : job.notes) log.line("note    " + note);
  const std::optional<TokenAlignment> alignment = plan_tokenizer(job, target.output, comm);
  OpenInputs inputs = open_inputs(job.base, job.models, comm, target.side_inputs, job.slices);
  if (alignment) align_token_rows(inputs, *alignment, comm);  // embedding rows by token string
  MergeTarget* const targets[] = {&target};
  const PlannedMerge planned = plan_targets(inputs, targets, job.memory_budget, job.out_dtype, comm, job.compute_in_float64);
  log.line(plan_line(planned));

  // Every merge keeps a journal beside its partial output; --resume continues from one.
  const std::string fingerprint = merge_fingerprint(job, target.output, inputs.pins, planned.plan, comm);
  const std::optional<ResumePoint> resume =
      job.resume ? find_resume_point(job, fingerprint, inputs.pins, planned.plan, comm, log) : std::nullopt;
  target.journal = Journal::path_for(job.output);
  bool analysed = false;
  if (resume) {
    target.output.reopen = true;
    target.finished = resume->checksums;
    target.journaled = resume->count;
    analysed = resume->method_state && target.method->restore_state(*resume->method_state);
  }
  open_output(target, planned.plan, comm, log, fingerprint, resume_inputs(inputs.pins));

  Progress progress(Progress::style_for(comm.is_root(), job.quiet, job.progress), std::cout);
  MergeSession session(planned.plan, planned.work, inputs.set, comm, progress);
  session.allow_nonfinite(job.allow_nonfinite);
  if (!analysed) {
    session.analyze(targets);
    if (const auto state = target.method->saved_state())
      mpi::run_agreed(comm, [&] {
        if (comm.is_root()) Journal::append_state(target.journal, *state);
      });
  }
  fault_point("analysis", comm.rank());
  WorkPlan rest;
  if (resume) {  // only what the interrupted run did not finish
    rest = make_work_plan(planned.plan, comm.size(), planned.slice_budget, resume->finished, planned.whole,
                          planned.group_bytes, held_tensor_bytes_for(planned.plan));
    session.switch_work(rest);
  }
  session.merge_and_write(targets);
  fault_point("commit", comm.rank());
  inputs.pins.check(comm);  // no input changed while it was read

  // A resumed merge did not read every input whole: it has no inputs' checksums to report.
  MergeSummary summary = summarize(target, planned, resume ? std::vector<MergeSummary::InputChecksum>{}
                                                           : input_checksums(session, planned, inputs),
                                   session, started, comm);
  summary.resumed_tensors = resume ? resume->count : 0;
  commit_target(target, summary, comm);  // the report, then the output and report renamed together
  log_summary(log, summary);
  return summary;
}

}  // namespace mpimerge
