#include "mpimerge/engine/engine.hpp"

#include <chrono>
#include <memory>

#include "engine/block_loop.hpp"
#include "engine/paths.hpp"
#include "engine/phases.hpp"
#include "engine/rank_slices.hpp"
#include "engine/report.hpp"
#include "mpimerge/engine/plan.hpp"
#include "mpimerge/engine/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/mpi/comm.hpp"

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

// Refuses NaN and infinity in any input (a trim threshold or an average over them means nothing),
// and copied (non-float) tensors on which the models disagree with the base.
void check_slices(const MergePlan& plan, const InputSet& inputs, const RankSlices& slices) {
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
    const PlannedTensor& tensor = plan.tensors[t];
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
      if (tensor.action == TensorAction::merge) {
        if (const auto bad = count_nonfinite(tensor.input_dtype[i], slices.raw(i, t)))
          throw InputError(inputs.label(i) + ": tensor '" + tensor.output.name + "' holds " +
                           std::to_string(bad) + " NaN or infinite values in rows " +
                           std::to_string(slices.rows(t).begin) + ".." + std::to_string(slices.rows(t).end));
      } else if (i > 0) {
        const auto a = slices.raw(0, t), b = slices.raw(i, t);
        if (!std::equal(a.begin(), a.end(), b.begin(), b.end()))
          throw InputError("tensor '" + tensor.output.name + "' (" + std::string(dtype_name(tensor.output.dtype)) +
                           ", not merged) differs between " + inputs.label(0) + " and " + inputs.label(i));
      }
    }
  }
}

// The merged (or copied) bytes of this rank's rows of every output tensor.
std::vector<std::vector<std::uint8_t>> merge_slices(const MergePlan& plan, const InputSet& inputs,
                                                    const RankSlices& slices, MergeMethod& method) {
  std::vector<std::vector<std::uint8_t>> out(plan.tensors.size());
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
    const PlannedTensor& tensor = plan.tensors[t];
    if (tensor.action == TensorAction::copy_from_base) {
      const auto raw = slices.raw(0, t);
      out[t].assign(raw.begin(), raw.end());
    } else {
      out[t].resize(slices.elements(t) * dtype_size(tensor.output.dtype));
    }
  }
  std::vector<float> f32(kBlockElements);
  std::vector<double> f64(kBlockElements);
  for_each_block(plan, slices, inputs, [&](const auto& block, std::size_t t, std::uint64_t offset) {
    using T = typename std::decay_t<decltype(block.base)>::value_type;
    std::span<T> merged;
    if constexpr (sizeof(T) == 8) merged = std::span<T>(f64.data(), block.size());
    else merged = std::span<T>(f32.data(), block.size());
    method.merge(block, merged);
    const DType dtype = plan.tensors[t].output.dtype;
    encode<T>(merged, dtype, std::span<std::uint8_t>(out[t]).subspan(offset * dtype_size(dtype), block.size() * dtype_size(dtype)));
  });
  return out;
}

void write_slices(const MergePlan& plan, const RankSlices& slices,
                  const std::vector<std::vector<std::uint8_t>>& out, storage::CheckpointWriter& writer,
                  const mpi::Comm& comm) {
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
    const TensorInfo& info = plan.tensors[t].output;
    const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
    const RowRange mine = slices.rows(t);
    for_each_transfer(info.rows(), mine, row_bytes, comm.size(), [&](RowRange part) {
      const std::uint64_t offset = (part.begin - mine.begin) * row_bytes;
      writer.write_rows(t, part, std::span<const std::uint8_t>(out[t]).subspan(offset, part.count() * row_bytes));
    });
  }
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

}  // namespace

MergeSummary run_merge(const MergeJob& job, const mpi::Comm& comm, const Log& log) {
  const auto started = std::chrono::steady_clock::now();
  MergeSummary summary;
  summary.method = job.method.method;
  summary.ranks = comm.size();

  std::unique_ptr<MergeMethod> method;
  storage::Format format{};
  mpi::run_agreed(comm, [&] {
    method = make_method(job.method);
    if (job.models.empty()) throw UsageError("no models given (--model)");
    if (method->needs_base() && !job.base) throw UsageError(job.method.method + " needs a base model (--base)");
    format = storage::output_format_for(job.output);
    check_job_paths(job);
  });
  log.line(describe_job(job, comm.size()));

  OpenInputs inputs = open_inputs(job, comm);
  MergePlan plan;
  mpi::run_agreed(comm, [&] {
    plan = plan_merge(inputs.set, job.out_dtype);
    method->start(plan.shape);
  });
  summary.tensors = plan.tensors.size();
  summary.merged_tensors = plan.shape.tensors.size();
  summary.copied_tensors = summary.tensors - summary.merged_tensors;
  summary.parameters = plan.shape.total_elements();
  log.line("plan    " + std::to_string(summary.tensors) + " tensors (" + std::to_string(summary.merged_tensors) +
           " merged, " + std::to_string(summary.copied_tensors) + " copied), " +
           format_number(static_cast<double>(summary.parameters)) + " parameters per model");

  PendingOutput pending(job.output, comm);  // declared before the writer: removed after it closes
  std::unique_ptr<storage::CheckpointWriter> writer;
  mpi::run_agreed(comm, [&] { writer = storage::create_checkpoint(pending.path(), format, plan.output_tensors(), comm); });

  PhaseClock phases(comm, log);
  RankSlices slices(plan, inputs.set, comm);
  phases.collective("read", [&](PhaseNote& note) {
    slices.read_all(inputs.set);
    note.bytes = slices.bytes_read();
  });
  mpi::run_agreed(comm, [&] { check_slices(plan, inputs.set, slices); });

  mpi::CommReductions reductions(comm);
  if (method->needs_pass()) {
    phases.local("select", [&](PhaseNote& note) {
      while (method->needs_pass()) {
        mpi::run_agreed(comm, [&] {
          for_each_block(plan, slices, inputs.set,
                         [&](const auto& block, std::size_t, std::uint64_t) { method->analyze(block); });
        });
        // finish_pass reduces first and fails, if at all, identically on every rank.
        mpi::run_agreed(comm, [&] { method->finish_pass(reductions); });
        ++summary.analysis_passes;
      }
      note.detail = std::to_string(summary.analysis_passes) + " passes over the slices, " +
                    format_bytes(comm.traffic().bytes) + " reduced by rank 0";
    });
  }

  std::vector<std::vector<std::uint8_t>> merged;
  phases.local("merge", [&](PhaseNote&) {
    mpi::run_agreed(comm, [&] { merged = merge_slices(plan, inputs.set, slices, *method); });
  });

  phases.collective("write", [&](PhaseNote& note) {
    write_slices(plan, slices, merged, *writer, comm);
    writer->finish();
    for (const auto& m : merged) note.bytes += m.size();
  });
  pending.commit();

  summary.phases = phases.timings();
  summary.findings = method->findings();
  summary.reduction_bytes_per_rank = static_cast<std::uint64_t>(comm.max(static_cast<double>(comm.traffic().bytes)));
  summary.seconds = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  for (const auto& f : summary.findings) log.line("        " + f.key + " " + format_number(f.value));
  log.line("done    " + job.output + " in " + format_seconds(summary.seconds));
  mpi::run_agreed(comm, [&] {
    if (!job.report_path.empty() && comm.is_root()) write_report(job.report_path, job, summary);
  });
  return summary;
}

}  // namespace mpimerge
