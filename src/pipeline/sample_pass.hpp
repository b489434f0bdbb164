#pragma once
// The sample pass: a few windows of rows from every unit of every merged tensor, about
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

// Windows of one unit on this rank: [begin, end) row ranges inside `mine`, and how many rows
// rank 0 reads per window (the collective call count follows from it).
struct SampleWindows {
  std::vector<RowRange> windows;
  std::uint64_t rank0_rows_per_window = 0;
};

inline SampleWindows sample_windows(RowRange mine, std::uint64_t rank0_rows, double fraction) {
  SampleWindows s;
  if (fraction <= 0 || rank0_rows == 0) return s;
  const auto wanted = std::min<std::uint64_t>(
      rank0_rows, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(rank0_rows)))));
  const std::uint64_t count = wanted >= rank0_rows ? 1 : std::min(kSampleWindows, wanted);
  s.rank0_rows_per_window = (wanted + count - 1) / count;
  for (std::uint64_t w = 0; w < count; ++w) {
    const std::uint64_t begin = mine.begin + w * mine.count() / count;
    s.windows.push_back({begin, std::min(mine.end, begin + s.rank0_rows_per_window)});
  }
  return s;
}

template <class Visit>
void for_each_sampled_block(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs, const MergeMethod& method,
                            const mpi::Comm& comm, Visit&& visit) {
  Decoders decoders(inputs.readers.size());
  std::vector<std::vector<std::uint8_t>> buffers(inputs.readers.size());
  RowsView view;
  for (const auto& group : work.groups)
    for (const WorkUnit& unit : group) {
      const PlannedTensor& tensor = plan.tensors[unit.tensor];
      if (tensor.action != TensorAction::merge) continue;
      const SampleWindows s = sample_windows(work.rows(plan, unit, comm.rank(), comm.size()),
                                             work.rows(plan, unit, 0, comm.size()).count(),
                                             method.sample_fraction(tensor.merged_index));
      for (const RowRange window : s.windows) {
        view.raw.clear();
        for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
          const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(tensor.input_dtype[i]);
          buffers[i].resize(window.count() * row_bytes);
          for_each_transfer(s.rank0_rows_per_window, RowRange{0, window.count()}, row_bytes, [&](RowRange part) {
            inputs.readers[i]->read_rows(tensor.input_index[i], RowRange{window.begin + part.begin, window.begin + part.end},
                                         std::span<std::uint8_t>(buffers[i]).subspan(part.begin * row_bytes, part.count() * row_bytes));
          });
          view.raw.push_back(buffers[i]);
        }
        view.elements = window.count() * tensor.output.row_elements();
        view.first_element = window.begin * tensor.output.row_elements();
        decoders.run(tensor, view, inputs.has_base, 0, visit);
      }
    }
}

}  // namespace mpimerge
