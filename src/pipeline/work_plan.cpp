#include "pipeline/work_plan.hpp"

#include <algorithm>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {

std::uint64_t bytes_per_row(const PlannedTensor& tensor) {
  std::uint64_t element_bytes = dtype_size(tensor.output.dtype);
  for (DType d : tensor.input_dtype) element_bytes += dtype_size(d);
  // Aligned inputs (Fisher files) are read with the same rows and held beside them.
  for (std::size_t a = 0; a < tensor.aligned_index.size(); ++a)
    if (tensor.aligned_index[a]) element_bytes += dtype_size(tensor.aligned_dtype[a]);
  return element_bytes * tensor.output.row_elements();
}

RowRange WorkPlan::rows(const MergePlan& plan, const WorkUnit& unit, int rank, int ranks) const {
  const RowRange slice = owned_rows(plan.tensors[unit.tensor].output.rows(), rank, ranks);
  const std::uint64_t per_chunk = chunking[unit.tensor].rows_per_chunk;
  const std::uint64_t begin = std::min(slice.end, slice.begin + unit.chunk * per_chunk);
  return {begin, std::min(slice.end, begin + per_chunk)};
}

WorkPlan make_work_plan(const MergePlan& plan, int ranks, std::uint64_t budget_bytes, const std::vector<bool>& skip) {
  WorkPlan work;
  work.group_bytes_limit = budget_bytes;
  std::vector<WorkUnit> group;
  std::uint64_t group_bytes = 0;
  auto close_group = [&] {
    if (!group.empty()) work.groups.push_back(std::move(group));
    group.clear();
    group_bytes = 0;
  };
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
    const PlannedTensor& tensor = plan.tensors[t];
    const std::uint64_t row_bytes = std::max<std::uint64_t>(1, bytes_per_row(tensor));
    const std::uint64_t most_rows = owned_rows(tensor.output.rows(), 0, ranks).count();
    if (row_bytes > budget_bytes)
      throw InputError("the memory budget of " + format_bytes(budget_bytes) + " per rank cannot hold one row of tensor '" +
                       tensor.output.name + "' (" + format_bytes(row_bytes) + " with every input and the output)");
    TensorChunking chunking;
    chunking.rows_per_chunk = std::max<std::uint64_t>(1, std::min(most_rows, budget_bytes / row_bytes));
    chunking.chunks = (most_rows + chunking.rows_per_chunk - 1) / chunking.rows_per_chunk;
    work.chunking.push_back(chunking);
    if (t < skip.size() && skip[t]) continue;
    // A tensor with no rows still gets one (empty) unit, so that it is created and listed.
    const std::uint64_t units = std::max<std::uint64_t>(1, chunking.chunks);
    for (std::uint64_t c = 0; c < units; ++c) {
      const std::uint64_t bytes = std::min(most_rows - std::min(most_rows, c * chunking.rows_per_chunk),
                                           chunking.rows_per_chunk) * row_bytes;
      if (group_bytes + bytes > budget_bytes) close_group();
      group.push_back({t, c});
      group_bytes += bytes;
    }
  }
  close_group();
  return work;
}

}  // namespace mpimerge
