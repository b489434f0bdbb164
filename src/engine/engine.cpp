#include "mpimerge/engine/engine.hpp"

#include <chrono>
#include <memory>

#include "engine/block_loop.hpp"
#include "engine/group_slices.hpp"
#include "engine/paths.hpp"
#include "engine/phases.hpp"
#include "engine/report.hpp"
#include "engine/sample_pass.hpp"
#include "mpimerge/engine/plan.hpp"
#include "mpimerge/engine/transfers.hpp"
#include "mpimerge/engine/work_plan.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/util/memory.hpp"

namespace mpimerge {
namespace {

struct OpenInputs {
  std::vector<std::unique_ptr<storage::CheckpointReader>> owned;
  InputSet set;
};

std::vector<std::string> input_paths(const MergeJob& job) {
  std::vector<std::string> paths;
  if (job.base) paths.push_back(*job.base);
  paths.insert(paths.end(), job.models.begin(), job.models.end());
  return paths;
}

OpenInputs open_inputs(const MergeJob& job, const mpi::Comm& comm) {
  OpenInputs inputs;
  inputs.set.has_base = job.base.has_value();
  for (const std::string& path : input_paths(job)) {
    mpi::run_agreed(comm, [&] { inputs.owned.push_back(storage::open_checkpoint(path, comm)); });
    inputs.set.readers.push_back(inputs.owned.back().get());
  }
  return inputs;
}

// Per rank: the job's budget, or 70% of the memory this process may use shared by the ranks on
// its node, less a fixed allowance for MPI, HDF5 and the program itself. The smallest over all
// ranks holds everywhere, so that every rank forms the same groups.
constexpr std::uint64_t kFixedOverhead = std::uint64_t{256} << 20;

std::uint64_t memory_budget(const MergeJob& job, const mpi::Comm& comm) {
  std::uint64_t budget = 0;
  if (job.memory_budget) {
    budget = *job.memory_budget;
  } else {
    const std::uint64_t share = usable_memory_bytes() / 10 * 7 / static_cast<std::uint64_t>(comm.ranks_on_node());
    budget = share > 2 * kFixedOverhead ? share - kFixedOverhead : share / 2;
  }
  return comm.min(budget);
}

// Refuses NaN and infinity in any input (a trim threshold or an average over them means nothing),
// and copied (non-float) tensors on which the models disagree with the base.
void check_slices(const MergePlan& plan, const InputSet& inputs, const GroupSlices& slices) {
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const PlannedTensor& tensor = plan.tensors[slices.unit(u).tensor];
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
      if (tensor.action == TensorAction::merge) {
        if (const auto bad = count_nonfinite(tensor.input_dtype[i], slices.raw(i, u)))
          throw InputError(inputs.label(i) + ": tensor '" + tensor.output.name + "' holds " +
                           std::to_string(bad) + " NaN or infinite values in rows " +
                           std::to_string(slices.rows(u).begin) + ".." + std::to_string(slices.rows(u).end));
      } else if (i > 0) {
        const auto a = slices.raw(0, u), b = slices.raw(i, u);
        if (!std::equal(a.begin(), a.end(), b.begin(), b.end()))
          throw InputError("tensor '" + tensor.output.name + "' (" + std::string(dtype_name(tensor.output.dtype)) +
                           ", not merged) differs between " + inputs.label(0) + " and " + inputs.label(i));
      }
    }
  }
}

// The merged (or copied) bytes of this rank's rows of every unit of the loaded group, in arena.
std::vector<std::span<std::uint8_t>> merge_group(const MergePlan& plan, const InputSet& inputs,
                                                 const GroupSlices& slices, MergeMethod& method, ByteArena& arena) {
  std::vector<std::span<std::uint8_t>> out(slices.units());
  std::vector<std::uint64_t> offsets(slices.units());
  std::uint64_t total = 0;
  for (std::size_t u = 0; u < slices.units(); ++u) {
    offsets[u] = total;
    total += (slices.elements(u) * dtype_size(plan.tensors[slices.unit(u).tensor].output.dtype) + 63) / 64 * 64;
  }
  const std::span<std::uint8_t> space = arena.take(total);
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const PlannedTensor& tensor = plan.tensors[slices.unit(u).tensor];
    out[u] = space.subspan(offsets[u], slices.elements(u) * dtype_size(tensor.output.dtype));
    if (tensor.action == TensorAction::copy_from_base) {
      const auto raw = slices.raw(0, u);
      std::copy(raw.begin(), raw.end(), out[u].begin());
    }
  }
  std::vector<float> f32(kBlockElements);
  std::vector<double> f64(kBlockElements);
  for_each_block(plan, slices, inputs, [&](const auto& block, std::size_t u, std::uint64_t offset) {
    using T = typename std::decay_t<decltype(block.base)>::value_type;
    std::span<T> merged;
    if constexpr (sizeof(T) == 8) merged = std::span<T>(f64.data(), block.size());
    else merged = std::span<T>(f32.data(), block.size());
    method.merge(block, merged);
    const DType dtype = plan.tensors[slices.unit(u).tensor].output.dtype;
    encode<T>(merged, dtype, out[u].subspan(offset * dtype_size(dtype), block.size() * dtype_size(dtype)));
  });
  return out;
}

std::uint64_t write_group(const MergePlan& plan, const WorkPlan& work, const GroupSlices& slices,
                          const std::vector<std::span<std::uint8_t>>& out, storage::CheckpointWriter& writer,
                          const mpi::Comm& comm) {
  std::uint64_t bytes = 0;
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const WorkUnit& unit = slices.unit(u);
    const TensorInfo& info = plan.tensors[unit.tensor].output;
    const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
    const RowRange mine = slices.rows(u);
    for_each_transfer(work.rows(plan, unit, 0, comm.size()).count(), RowRange{0, mine.count()}, row_bytes, [&](RowRange part) {
      writer.write_rows(unit.tensor, RowRange{mine.begin + part.begin, mine.begin + part.end},
                        out[u].subspan(part.begin * row_bytes, part.count() * row_bytes));
    });
    bytes += out[u].size();
  }
  return bytes;
}

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

// Drives the method over the slices: loads groups (collectively), runs the analysis passes and the
// merge, writes each group. With one group everything is read once; otherwise every pass reads
// the inputs again, group by group, never holding more than one group.
class MergeRun {
 public:
  MergeRun(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs, MergeMethod& method,
           const mpi::Comm& comm, const Log& log)
      : plan_(plan), work_(work), inputs_(inputs), method_(method), comm_(comm), log_(log),
        slices_(plan, work, inputs, comm), phases_(comm, {"read", "select", "merge", "write"}),
        checked_(work.groups.size(), false) {}

  void analysis_passes(MergeSummary& summary) {
    mpi::CommReductions reductions(comm_);
    while (method_.needs_pass()) {
      if (method_.pass_kind() == PassKind::sample) {
        sample_pass();
      } else {
        for (std::size_t g = 0; g < work_.groups.size(); ++g) {
          load(g);
          phases_.local("select", [&] {
            mpi::run_agreed(comm_, [&] {
              for_each_block(plan_, slices_, inputs_, [&](const auto& block, std::size_t, std::uint64_t) { method_.analyze(block); });
            });
            return std::uint64_t{0};
          });
        }
      }
      // finish_pass reduces first and fails, if at all, identically on every rank.
      phases_.local("select", [&] {
        mpi::run_agreed(comm_, [&] { method_.finish_pass(reductions); });
        return std::uint64_t{0};
      });
      ++summary.analysis_passes;
      if (work_.streaming())
        log_.line("pass " + std::to_string(summary.analysis_passes) + " over " + std::to_string(work_.groups.size()) +
                  " groups done");
    }
  }

  void merge_and_write(storage::CheckpointWriter& writer) {
    for (std::size_t g = 0; g < work_.groups.size(); ++g) {
      load(g);
      std::vector<std::span<std::uint8_t>> merged;
      phases_.local("merge", [&] {
        mpi::run_agreed(comm_, [&] { merged = merge_group(plan_, inputs_, slices_, method_, output_arena_); });
        return std::uint64_t{0};
      });
      phases_.collective("write", [&] { return write_group(plan_, work_, slices_, merged, writer, comm_); });
    }
    phases_.collective("write", [&] {
      writer.finish();
      return std::uint64_t{0};
    });
  }

  std::vector<PhaseTiming> timings() const { return phases_.combined(); }
  int data_reads() const { return reads_; }

 private:
  // Reads the sampled windows (collective, so an error aborts) and analyzes them (agreed).
  void sample_pass() {
    std::exception_ptr error;
    phases_.collective("select", [&] {
      for_each_sampled_block(plan_, work_, inputs_, method_, comm_, [&](const auto& block, std::size_t, std::uint64_t) {
        if (error) return;
        try {
          method_.analyze(block);
        } catch (...) {
          error = std::current_exception();
        }
      });
      return std::uint64_t{0};
    });
    comm_.agree(error);
  }

  void load(std::size_t g) {
    if (slices_.loaded_group() == g) return;
    if (g == 0) ++reads_;
    const std::uint64_t before = slices_.bytes_read();
    phases_.collective("read", [&] {
      slices_.load(g);
      return slices_.bytes_read() - before;
    });
    if (!checked_[g]) {
      mpi::run_agreed(comm_, [&] { check_slices(plan_, inputs_, slices_); });
      checked_[g] = true;
    }
  }

  const MergePlan& plan_;
  const WorkPlan& work_;
  const InputSet& inputs_;
  MergeMethod& method_;
  const mpi::Comm& comm_;
  const Log& log_;
  GroupSlices slices_;
  ByteArena output_arena_;
  PhaseClock phases_;
  std::vector<bool> checked_;
  int reads_ = 0;
};

}  // namespace

MergeSummary run_merge(const MergeJob& job, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  MergeSummary summary;
  summary.method = job.method.method;
  summary.ranks = comm.size();

  std::unique_ptr<MergeMethod> method;
  storage::OutputSpec output;
  mpi::run_agreed(comm, [&] {
    method = make_method(job.method);
    if (job.models.empty()) throw UsageError("no models given (--model)");
    if (method->needs_base() && !job.base) throw UsageError(job.method.method + " needs a base model (--base)");
    output = output_spec_for(job);
    check_job_paths(job);
  });
  log.line(describe_job(job, comm.size()));

  OpenInputs inputs = open_inputs(job, comm);
  MergePlan plan;
  WorkPlan work;
  summary.memory_budget = memory_budget(job, comm);
  mpi::run_agreed(comm, [&] {
    plan = plan_merge(inputs.set, job.out_dtype);
    // An eighth of the budget for what a method keeps beyond the slices (selection candidates).
    plan.shape.method_memory = summary.memory_budget / 8;
    method->start(plan.shape);
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

  PendingOutput pending(job.output, comm);  // declared before the writer: removed after it closes
  std::unique_ptr<storage::CheckpointWriter> writer;
  mpi::run_agreed(comm, [&] { writer = storage::create_checkpoint(pending.path(), output, plan.output_tensors(), comm); });

  MergeRun run(plan, work, inputs.set, *method, comm, log);
  run.analysis_passes(summary);
  run.merge_and_write(*writer);
  pending.commit();

  summary.phases = run.timings();
  summary.data_reads = run.data_reads();
  summary.findings = method->findings();
  summary.reduction_bytes_per_rank = static_cast<std::uint64_t>(comm.max(static_cast<double>(comm.traffic().bytes)));
  summary.peak_rss = comm.allgather(peak_rss_bytes());
  summary.seconds = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  for (const auto& p : summary.phases)
    if (p.name != "select" || summary.analysis_passes > 0)
      log.line(phase_line(p) + (p.name == "select" ? ", " + std::to_string(summary.analysis_passes) + " passes" : ""));
  for (const auto& f : summary.findings) log.line("        " + f.key + " " + format_number(f.value));
  log.line("done    " + job.output + " in " + format_seconds(summary.seconds) + ", peak memory " +
           format_bytes(*std::max_element(summary.peak_rss.begin(), summary.peak_rss.end())) + " per rank");
  mpi::run_agreed(comm, [&] {
    if (!job.report_path.empty() && comm.is_root()) write_report(job.report_path, job, summary);
  });
  return summary;
}

}  // namespace mpimerge
