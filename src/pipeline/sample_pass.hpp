#pragma once
// The sample pass: a few windows of rows from the units of every merged tensor, about
// method.sample_fraction(tensor) of the rows, read collectively (every rank the same number of
// calls, each for windows inside its own rows) and visited block by block. Which rows are sampled
// depends on how rows are split, and may: a sample only steers a method's work, never its result.
#include <algorithm>
#include <cmath>
#include <vector>

#include "pipeline/block_loop.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "pipeline/work_plan.hpp"

namespace mpimerge {

inline constexpr std::uint64_t kSampleWindows = 2;
// Windows are read in batches of about this many bytes (of the largest share, so that every rank
// makes the same calls), or of the sample's memory, if less: few collective steps for many small
// tensors, little memory for large ones, and within the memory budget.
inline constexpr std::uint64_t kSampleBatchBytes = std::uint64_t{32} << 20;

// Windows of one unit on this rank: [begin, end) row ranges inside `mine`, and how many rows
// the largest share reads per window (the collective call count follows from it).
struct SampleWindows {
  std::vector<RowRange> windows;
  std::uint64_t most_rows_per_window = 0;
};

// Rows each unit samples. Where the method's memory for the sample holds it (every_unit), its
// share of the largest share's rows rounded up, at least one, as before: a unit's share is often
// under a row, so this takes 2-6x the plan with 8 MiB groups, which the defaults keep (the same
// sample, the same times). Otherwise, the tensor's share carried from unit to unit, and at least
// one row per tensor (a method that planned less keeps a part of its keys): under a small
// --memory-budget a unit is a row or two, and a row of every unit was most of the model, 0.76 GB
// of sampled keys per rank at 512K on 0.55B (docs/performance.md). What is taken follows from
// most_rows and the fraction, in the units' order: the same on every rank.
class SampleQuota {
 public:
  SampleQuota(std::size_t tensors, bool every_unit)
      : every_unit_(every_unit), owed_(tensors, 0.0), sampled_(tensors, false) {}
  std::uint64_t rows(std::size_t tensor, std::uint64_t most_rows, double fraction) {
    if (fraction <= 0 || most_rows == 0) return 0;
    if (every_unit_)
      return std::min<std::uint64_t>(
          most_rows, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(most_rows)))));
    double& owed = owed_[tensor];
    owed += std::min(1.0, fraction) * static_cast<double>(most_rows);
    auto taken = std::min<std::uint64_t>(most_rows, static_cast<std::uint64_t>(std::max(0.0, owed)));
    if (!sampled_[tensor]) taken = std::max<std::uint64_t>(taken, 1);  // owed back by later units
    owed -= static_cast<double>(taken);
    sampled_[tensor] = true;
    return taken;
  }

 private:
  bool every_unit_;
  std::vector<double> owed_;  // per tensor, in rows
  std::vector<bool> sampled_;
};

// What one sample pass reads: the units of these groups (all of them, or one run of tensors:
// pipeline/analysis_runs.hpp), within `memory` (MergeShape::sample_memory, or
// MergeShape::run_sample_memory in a run; 0: no limit).
struct SampleScope {
  GroupRange groups;
  std::uint64_t memory = 0;
};

// Whether a row of every unit fits the method's memory for the sample (see SampleQuota), judged on
// the largest share's rows: the same on every rank.
inline bool sample_every_unit(const MergePlan& plan, const WorkPlan& work, const SampleScope& scope,
                              const MergeMethod& method, int ranks) {
  const std::uint64_t per_element = method.sample_bytes_per_element();
  if (per_element == 0 || scope.memory == 0) return true;
  SampleQuota every(plan.tensors.size(), true);
  double bytes = 0;
  for (std::size_t g = scope.groups.first; g < scope.groups.end; ++g)
    for (const WorkUnit& unit : work.groups[g]) {
      const PlannedTensor& tensor = plan.tensors[unit.tensor];
      if (tensor.action != TensorAction::merge) continue;
      const std::uint64_t rows = every.rows(unit.tensor, work.most_rows(plan, unit, ranks), method.sample_fraction(tensor.merged_index));
      bytes += static_cast<double>(rows) * static_cast<double>(tensor.output.row_elements() * per_element);
    }
  return bytes <= static_cast<double>(scope.memory);
}

// `wanted` rows of a unit, as at most kSampleWindows windows spread over this rank's rows.
inline SampleWindows sample_windows(RowRange mine, std::uint64_t most_rows, std::uint64_t wanted) {
  SampleWindows s;
  wanted = std::min(wanted, most_rows);
  if (wanted == 0) return s;
  const std::uint64_t count = wanted >= most_rows ? 1 : std::min(kSampleWindows, wanted);
  s.most_rows_per_window = (wanted + count - 1) / count;
  for (std::uint64_t w = 0; w < count; ++w) {
    const std::uint64_t begin = mine.begin + w * mine.count() / count;
    s.windows.push_back({begin, std::min(mine.end, begin + s.most_rows_per_window)});
  }
  return s;
}

template <class Visit>
void for_each_sampled_block(const MergePlan& plan, const WorkPlan& work, const SampleScope& scope, const InputSet& inputs,
                            const MergeMethod& method, const mpi::Comm& comm, Visit&& visit) {
  Decoders decoders(inputs.readers.size());
  std::vector<std::vector<std::uint8_t>> buffers(inputs.readers.size());
  RowsView view;
  // One window of one unit, and where its bytes start in each input's buffer.
  struct Window {
    const PlannedTensor* tensor;
    RowRange rows;
    std::uint64_t most_rows;
    std::vector<std::uint64_t> offsets;
  };
  std::vector<Window> windows;
  std::vector<std::uint64_t> sizes(inputs.readers.size(), 0);
  std::uint64_t most_bytes = 0;  // of the windows held: the same on every rank
  std::vector<storage::RowRead> reads;
  SampleQuota quota(plan.tensors.size(), sample_every_unit(plan, work, scope, method, comm.size()));
  // The batch within the sample's memory (the slices' memory, MergeShape::sample_memory, before any
  // slice is read; in a run of tensors, the method's share).
  const std::uint64_t batch_bytes =
      scope.memory == 0 ? kSampleBatchBytes : std::clamp<std::uint64_t>(scope.memory, 1, kSampleBatchBytes);
  // The windows held, as one batched read per input (one collective step for their small tensors
  // instead of one per window), then visited in their order.
  auto flush = [&] {
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
      buffers[i].resize(sizes[i]);
      reads.clear();
      for (const Window& w : windows) {
        const PlannedTensor& tensor = *w.tensor;
        const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(tensor.input_dtype[i]);
        const std::span<std::uint8_t> bytes = std::span<std::uint8_t>(buffers[i]).subspan(w.offsets[i], w.rows.count() * row_bytes);
        for_each_transfer(w.most_rows, RowRange{0, w.rows.count()}, row_bytes, [&](RowRange part) {
          reads.push_back({tensor.input_index[i], RowRange{w.rows.begin + part.begin, w.rows.begin + part.end},
                           bytes.subspan(part.begin * row_bytes, part.count() * row_bytes)});
        });
      }
      inputs.readers[i]->read_rows_batch(reads);
    }
    for (const Window& w : windows) {
      const PlannedTensor& tensor = *w.tensor;
      view.raw.clear();
      for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
        const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(tensor.input_dtype[i]);
        view.raw.push_back(std::span<const std::uint8_t>(buffers[i]).subspan(w.offsets[i], w.rows.count() * row_bytes));
      }
      view.elements = w.rows.count() * tensor.output.row_elements();
      view.first_element = w.rows.begin * tensor.output.row_elements();
      decoders.run(tensor, view, inputs.has_base, 0, visit);
    }
    windows.clear();
    std::fill(sizes.begin(), sizes.end(), 0);
    most_bytes = 0;
  };
  for (std::size_t g = scope.groups.first; g < scope.groups.end; ++g)
    for (const WorkUnit& unit : work.groups[g]) {
      const PlannedTensor& tensor = plan.tensors[unit.tensor];
      if (tensor.action != TensorAction::merge) continue;
      const std::uint64_t most_rows = work.most_rows(plan, unit, comm.size());
      const SampleWindows s =
          sample_windows(work.rows(plan, unit, comm.rank(), comm.size()), most_rows,
                         quota.rows(unit.tensor, most_rows, method.sample_fraction(tensor.merged_index)));
      for (const RowRange window : s.windows) {
        Window w{&tensor, window, s.most_rows_per_window, {}};
        for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
          const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(tensor.input_dtype[i]);
          w.offsets.push_back(sizes[i]);
          sizes[i] += window.count() * row_bytes;
          most_bytes += s.most_rows_per_window * row_bytes;
        }
        windows.push_back(std::move(w));
        if (most_bytes >= batch_bytes) flush();
      }
    }
  flush();
}

}  // namespace mpimerge
