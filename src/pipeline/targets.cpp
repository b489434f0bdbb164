#include "pipeline/targets.hpp"

#include <algorithm>

#include "durability/fault.hpp"
#include "durability/journal.hpp"
#include "durability/paths.hpp"
#include "presentation/model_card.hpp"
#include "presentation/report.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/util/counter_rng.hpp"
#include "mpimerge/util/format.hpp"
#include "mpimerge/util/memory.hpp"
#include "mpimerge/storage/file_system.hpp"
#include "pipeline/working_set.hpp"
#include "storage/direct_file.hpp"
#include "mpimerge/util/buffer_pool.hpp"

namespace mpimerge {

namespace {

// The job's side input files, checked against the method's declaration: one file per model for
// each side input it declares, none it does not.
SideInputPaths side_inputs_for(const MethodSpec& spec, const MergeJob& job) {
  SideInputPaths out;
  for (const auto& [name, paths] : job.side_inputs) {
    if (paths.empty()) continue;
    const SideInputDef* def = spec.find_side_input(name);
    if (!def) {
      std::string takers;
      for (const MethodSpec* s : method_registry())
        if (s->find_side_input(name)) takers += (takers.empty() ? "" : ", ") + std::string(s->name);
      throw UsageError(std::string(spec.name) + " takes no " + name + " files (--" + name + "; they are for " + takers + ")");
    }
  }
  for (const SideInputDef& def : spec.side_inputs) {
    const std::string name(def.name);
    const auto at = job.side_inputs.find(name);
    const std::size_t given = at == job.side_inputs.end() ? 0 : at->second.size();
    if (given != job.models.size())
      throw UsageError(std::string(spec.name) + " needs one " + name + " file per model (--" + name + ", or " + name +
                       ": in the job file): " + std::to_string(job.models.size()) + " models, " + std::to_string(given) +
                       " " + name + " files");
    (def.kind == SideInputKind::aligned ? out.aligned : out.matrices) = at->second;
    (def.kind == SideInputKind::aligned ? out.aligned_name : out.matrices_name) = name;
  }
  return out;
}

// Per plan tensor: what the targets whose method merges it whole need (see work_plan.hpp).
std::vector<std::optional<WholeTensorNeed>> whole_tensor_needs(const MergePlan& plan,
                                                               std::span<MergeTarget* const> targets) {
  std::vector<std::optional<WholeTensorNeed>> needs(plan.tensors.size());
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
    if (plan.tensors[t].action != TensorAction::merge) continue;
    for (MergeTarget* target : targets)
      if (const auto w = target->method->whole_merge(plan.tensors[t].merged_index)) {
        if (!needs[t]) needs[t] = WholeTensorNeed{};
        needs[t]->work_bytes = std::max(needs[t]->work_bytes, w->work_bytes);
        needs[t]->cost += w->cost;
      }
  }
  return needs;
}

// The file system the inputs lie on, for the working set's rule: the first that is not local where
// any is not. Rank 0 looks (statfs); every rank takes its answer, so all plan the same groups.
storage::FileSystem inputs_file_system(const InputSet& set, const mpi::Comm& comm) {
  std::string text;
  if (comm.is_root()) {
    std::vector<const storage::CheckpointReader*> readers(set.readers.begin(), set.readers.end());
    readers.insert(readers.end(), set.aligned.begin(), set.aligned.end());
    storage::FileSystem chosen;
    for (std::size_t i = 0; i < readers.size(); ++i) {
      const storage::FileSystem fs = storage::file_system_of(readers[i]->path());
      const bool rereads_cost = fs.kind != storage::FileSystemKind::local && fs.kind != storage::FileSystemKind::memory;
      if (i == 0 || rereads_cost) chosen = fs;
      if (rereads_cost) break;
    }
    text = std::to_string(static_cast<int>(chosen.kind)) + " " + chosen.name;
  }
  comm.broadcast(text);
  const std::size_t space = text.find(' ');
  return {static_cast<storage::FileSystemKind>(std::stoi(text.substr(0, space))), text.substr(space + 1)};
}

// The output's I/O: as --output-io says, else by the file system of the output's directory (rank 0
// looks; every rank takes its answer). Returns the reason, for the log and the report.
std::string choose_output_io(const MergeJob& job, storage::OutputSpec& spec, const mpi::Comm& comm) {
  if (job.output_io == OutputIo::direct) return "--output-io direct";
  if (job.output_io == OutputIo::mpiio) return "--output-io mpiio";
  std::string reason;
  bool direct = false;
  if (comm.is_root()) {
    const storage::OutputIoChoice choice = storage::default_output_io(storage::file_system_of(job.output));
    direct = choice.direct;
    reason = choice.reason;
  }
  comm.broadcast(reason);
  spec.direct_writes = comm.all(direct || !comm.is_root());  // rank 0's answer
  return reason;
}

}  // namespace

MergeTarget prepare_target(const MergeJob& job, const mpi::Comm& comm) {
  MergeTarget target;
  target.job = job;
  mpi::run_agreed(comm, [&] {
    if (job.models.empty()) throw UsageError("no models given (--model)");
    // The one validation of the method and its parameters, whichever way the job came in.
    const MethodSpec& spec = resolve_method(job.method);
    target.method_args = {&spec, validate_parameters(job.method.params, spec.parameters, spec.name, job.models.size(),
                                                     job.method.mergekit_rules)};
    target.side_inputs = side_inputs_for(spec, job);
    if (spec.needs_base && !job.base) throw UsageError(std::string(spec.name) + " needs a base model (--base)");
    if (job.models.size() < spec.min_models || job.models.size() > spec.max_models) {
      const std::string count = spec.min_models == spec.max_models ? "exactly " + std::to_string(spec.min_models)
                                : spec.max_models == SIZE_MAX   ? "at least " + std::to_string(spec.min_models)
                                                                : std::to_string(spec.min_models) + " to " +
                                                                      std::to_string(spec.max_models);
      throw UsageError(std::string(spec.name) + " merges " + count + (spec.min_models == 1 && spec.max_models == 1 ? " model" : " models") +
                       (spec.needs_base ? " besides the base" : "") + ", but " + std::to_string(job.models.size()) +
                       " were given");
    }
    target.method = spec.make(target.method_args);
    target.output = output_spec_for(job);
    if (target.output.format == storage::Format::hf_directory) target.output.extra_files = model_card_files(job, target.method_args);
    if (comm.is_root()) check_job_paths(job);  // one rank looks: the others would race its lock file
  });
  target.output_io_reason = choose_output_io(job, target.output, comm);
  // Before the first byte: the output's directories, its lock, and a last look under the lock.
  target.claim = std::make_unique<OutputClaim>(job, comm);
  fault_point("locked", comm.rank());
  return target;
}

void check_same_plan(const MergePlan& plan, const mpi::Comm& comm) {
  const std::uint64_t fingerprint = plan_fingerprint(plan);
  if (comm.min(fingerprint) != comm.max(fingerprint))
    throw AgreedError("the ranks planned different merges: they read different inputs (a file that differs between "
                      "nodes, or one replaced while the merge started)",
                      ExitCode::failure, 0);
}

// Up to a quarter: per-tensor TIES on 0.55B at 2 ranks under --memory-budget 1M-2M took 4.1 and
// 2.8 s with a quarter, 4.5-6.6 and 3.3 s with half (the slices' smaller groups cost more than the
// reads saved), 6.0-10.4 and 3.5 s with an eighth (docs/performance.md, 4 December evening).
std::uint64_t methods_share(std::uint64_t budget, std::uint64_t wanted, std::uint64_t largest_row_bytes) {
  const std::uint64_t usual = budget / 8;  // selection candidates, sign tallies: room for the usual case
  const std::uint64_t most = std::max(usual, std::min(budget / 4, budget - std::min(budget, largest_row_bytes)));
  return std::clamp(wanted, usual, most);
}

PlannedMerge plan_targets(const OpenInputs& inputs, std::span<MergeTarget* const> targets,
                          std::optional<std::uint64_t> requested_budget, std::optional<DType> out_dtype,
                          const mpi::Comm& comm, bool compute_in_float64) {
  PlannedMerge planned;
  const MemoryBudget budget = memory_budget(requested_budget, comm);
  planned.budget = budget.bytes;
  planned.budget_source = budget.source;
  planned.nodes = budget.nodes;
  mpi::run_agreed(comm, [&] {
    planned.plan = plan_merge(inputs.set, out_dtype, compute_in_float64);
  });
  check_same_plan(planned.plan, comm);
  mpi::run_agreed(comm, [&] {
    planned.plan.shape.ranks = comm.size();
    std::uint64_t wanted = 0, largest_row = 0;
    for (MergeTarget* t : targets) {
      const MethodArgs& args = t->method_args;
      if (args.spec && args.spec->check) args.spec->check(ParameterView(args.params, args.spec->parameters, planned.plan.shape, args.spec->name));
      wanted += t->method->memory_wanted(planned.plan.shape);
    }
    for (const PlannedTensor& tensor : planned.plan.tensors) largest_row = std::max(largest_row, bytes_per_row(tensor));
    const std::uint64_t share = methods_share(planned.budget, wanted, largest_row);
    planned.slice_budget = planned.budget - share;
    planned.plan.shape.method_memory = share / targets.size();
    // The sample pass runs before any slice is read: the slices' memory.
    planned.plan.shape.sample_memory = planned.slice_budget / targets.size();
    for (MergeTarget* t : targets) t->method->start(planned.plan.shape);
    planned.whole = whole_tensor_needs(planned.plan, targets);
  });
  bool analysis_passes = false;
  for (MergeTarget* t : targets) analysis_passes = analysis_passes || t->method->needs_pass();
  const WorkingSet working_set = choose_working_set(planned.slice_budget, analysis_passes,
                                                    inputs_file_system(inputs.set, comm));
  planned.group_bytes = working_set.group_bytes;
  // The pool keeps what the budget allows, plus the direct writer's staging (outside the budget).
  BufferPool::process().set_cap(planned.budget + storage::DirectFile::kInFlightBytes);
  planned.working_set_reason = working_set.reason;
  mpi::run_agreed(comm, [&] {
    planned.work = make_work_plan(planned.plan, comm.size(), planned.slice_budget, {}, planned.whole,
                                  planned.group_bytes, held_tensor_bytes_for(planned.plan));
    // Streaming under a budget that binds, the output's buffer is a share of the slices that the
    // analysis passes leave idle: theirs too (0.55B, tensor scope, 2 ranks at 52K: 7.2 kB of the
    // method's and 9.0 kB of the output's; docs/performance.md, "Where 3 reads stop").
    if (planned.work.streaming()) {
      const std::uint64_t idle = planned.work.largest_output_bytes(planned.plan, comm.size()) / targets.size();
      planned.plan.shape.idle_output_memory = idle;
      for (MergeTarget* t : targets) t->method->lend_idle_memory(idle);
    }
  });
  return planned;
}

void open_output(MergeTarget& target, const MergePlan& plan, const mpi::Comm& comm, const Log& log,
                 const std::string& fingerprint, const nlohmann::ordered_json& inputs) {
  if (target.claim && !target.claim->locked())
    log.line("note    " + target.job.output + ": its file system has no file locks; a second merge to it would not be noticed");
  const WrittenPaths paths = written_paths(target.job);
  target.pending = std::make_unique<PendingOutput>(paths, comm);
  // The journal before the partial output: a partial output with a journal of ours beside it is one
  // that this program wrote (a killed run's), which a later run may continue or discard.
  if (!target.output.reopen)
    mpi::run_agreed(comm, [&] {
      if (comm.is_root()) Journal::start(paths.journal, fingerprint.empty() ? "not resumable" : fingerprint, inputs);
    });
  mpi::run_agreed(comm, [&] {
    target.writer = storage::create_checkpoint(target.pending->path(), target.output, plan.output_tensors(), comm);
  });
  if (target.output.direct_writes && !target.writer->writes_direct()) {
    log.line("note    " + target.job.output + ": its file system refuses O_DIRECT; writing with MPI-IO instead");
    target.output_io_reason += "; the file system refused O_DIRECT: MPI-IO instead";
  }
  log.line("output  " + std::string(target.writer->writes_direct() ? "direct" : "mpiio") + " (" + target.output_io_reason + ")");
}

std::vector<MergeSummary::InputChecksum> input_checksums(const MergeSession& session, const PlannedMerge& planned,
                                                         const OpenInputs& inputs) {
  const auto per_tensor = session.input_checksums();
  std::vector<MergeSummary::InputChecksum> out;
  for (std::size_t i = 0; i < inputs.set.readers.size(); ++i) {
    // Keyed by tensor name, so independent of the order the file lists its tensors in.
    std::uint64_t sum = 0;
    for (std::size_t t = 0; t < planned.plan.tensors.size(); ++t)
      sum += mix64(per_tensor[i][t] + hash_name(planned.plan.tensors[t].output.name));
    out.push_back({inputs.set.readers[i]->path(), mix64(sum ^ planned.plan.tensors.size())});
  }
  return out;
}

MergeSummary summarize(const MergeTarget& target, const PlannedMerge& planned,
                       const std::vector<MergeSummary::InputChecksum>& inputs, const MergeSession& session,
                       std::chrono::steady_clock::time_point started, const mpi::Comm& comm) {
  const MergePlan& plan = planned.plan;
  MergeSummary s;
  s.method = std::string(target.method_args.spec->name);
  s.method_parameters = used_parameters(target.method_args.params, target.method_args.spec->parameters, target.job.models.size());
  s.ranks = comm.size();
  s.output = target.job.output;
  s.output_io = target.writer && target.writer->writes_direct() ? "direct" : "mpiio";
  s.output_io_reason = target.output_io_reason;
  s.tensors = plan.tensors.size();
  s.merged_tensors = plan.shape.tensors.size();
  s.copied_tensors = s.tensors - s.merged_tensors;
  s.parameters = plan.shape.total_elements();
  s.memory_budget = planned.budget;
  s.memory_budget_source = planned.budget_source;
  s.working_set = planned.work.group_bytes_limit;
  s.working_set_reason = planned.working_set_reason;
  s.nodes = planned.nodes;
  const mpi::TransportSettings transport = mpi::transport_settings();
  s.mpi_library = transport.library;
  s.mpi_settings = transport.settings;
  s.groups = planned.work.groups.size();
  s.analysis_passes = target.analysis_passes;
  s.phases = session.timings();
  s.data_reads = session.data_reads();
  s.method_memory = plan.shape.method_memory;
  s.idle_output_memory = plan.shape.idle_output_memory;
  s.analysis_runs = session.analysis_runs();
  s.findings = target.method->findings();
  for (const auto& p : s.phases) {
    if (p.name == "read") s.bytes_read = p.bytes;
    if (p.name == "write") s.bytes_written = p.bytes;
  }
  s.inputs = inputs;
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) s.output_checksums.emplace_back(plan.tensors[t].output.name, target.checksums[t]);
  s.reduction_bytes_per_rank = static_cast<std::uint64_t>(comm.max(static_cast<double>(comm.traffic().bytes)));
  s.peak_rss = comm.allgather(peak_rss_bytes());
  s.target_seconds = comm.max(target.seconds);
  s.seconds = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return s;
}

std::string plan_line(const PlannedMerge& planned) {
  const auto& shape = planned.plan.shape;
  return "plan    " + std::to_string(planned.plan.tensors.size()) + " tensors (" + std::to_string(shape.tensors.size()) +
         " merged, " + std::to_string(planned.plan.tensors.size() - shape.tensors.size()) + " copied), " +
         format_number(static_cast<double>(shape.total_elements())) + " parameters per model" +
         (!planned.work.streaming() ? ""
          : planned.group_bytes >= planned.slice_budget
              ? "\nstream  the slices exceed the memory budget of " + format_bytes(planned.budget) + " per rank: " +
                    std::to_string(planned.work.groups.size()) + " groups, inputs read at most once per pass"
              : "\nstream  the working set of " + format_bytes(planned.group_bytes) + " per rank: " +
                    std::to_string(planned.work.groups.size()) + " groups, inputs read at most once per pass (" +
                    planned.working_set_reason + ")") +
         (planned.nodes.size() > 1 ? "\n" + nodes_line(planned.nodes, mpi::transport_settings()) : "");
}

namespace {
std::string rank_list(const std::vector<int>& ranks) {
  const bool run = ranks.back() - ranks.front() + 1 == static_cast<int>(ranks.size());
  if (ranks.size() == 1) return "rank " + std::to_string(ranks.front());
  if (run) return "ranks " + std::to_string(ranks.front()) + "-" + std::to_string(ranks.back());
  std::string text = "ranks ";
  for (std::size_t i = 0; i < ranks.size(); ++i) text += (i ? "," : "") + std::to_string(ranks[i]);
  return text;
}
}  // namespace

std::string nodes_line(const std::vector<NodeShare>& nodes, const mpi::TransportSettings& transport) {
  if (nodes.size() < 2) return "";
  std::string line = "nodes   " + std::to_string(nodes.size()) + ":";
  for (std::size_t i = 0; i < nodes.size(); ++i)
    line += std::string(i ? "," : "") + " " + nodes[i].host + " " + rank_list(nodes[i].ranks) + " (its share: " +
            format_bytes(nodes[i].budget_per_rank) + " per rank)";
  line += "; " + transport.library;
  for (const auto& [name, value] : transport.settings) line += ", " + name + " " + value;
  return line;
}

// Streamed, the reads of the inputs and, where the analysis went through runs of tensors, how
// many within what memory: the log says why a merge read more than a count and the merge.
void log_summary(const Log& log, const MergeSummary& summary) {
  for (const auto& p : summary.phases) {
    std::string line = phase_line(p);
    if (p.name == "read" && summary.groups > 1) line += ", the inputs " + std::to_string(summary.data_reads) + " times";
    if (p.name == "select") {
      if (summary.analysis_passes == 0) continue;
      line += ", " + std::to_string(summary.analysis_passes) + " passes";
      if (summary.analysis_runs > 1)
        line += " over " + std::to_string(summary.analysis_runs) + " runs of whole tensors (the method's " +
                format_bytes(summary.method_memory) + " and the idle output buffer's " +
                format_bytes(summary.idle_output_memory) + " per rank held one run at a time)";
    }
    log.line(line);
  }
  for (const auto& f : summary.findings) log.line("        " + f.key + " " + format_number(f.value));
  log.line("done    " + summary.output + " in " + format_seconds(summary.seconds) + ", peak memory " +
           format_bytes(*std::max_element(summary.peak_rss.begin(), summary.peak_rss.end())) + " per rank");
}

void commit_target(MergeTarget& target, MergeSummary& summary, const mpi::Comm& comm) {
  // The report first, under its temporary name: a report that cannot be written (a full disk, a
  // read-only directory) fails the merge before its output is in place.
  if (const auto& temp = target.pending->report_path()) {
    summary.report_path = report_path_for(target.job);
    mpi::run_agreed(comm, [&] {
      if (comm.is_root()) write_report(*temp, target.job, summary);
    });
  }
  target.pending->commit();
}

}  // namespace mpimerge
