#include "pipeline/work_plan.hpp"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "mpimerge/error.hpp"
#include "mpimerge/pipeline/transfers.hpp"
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

namespace {

// Every row of a held tensor on its holder, none elsewhere; otherwise the balanced split.
RowRange slice_of(const TensorInfo& tensor, int holder, int rank, int ranks) {
  if (holder < 0) return owned_rows(tensor.rows(), rank, ranks);
  return rank == holder ? RowRange{0, tensor.rows()} : RowRange{};
}

// The largest of a tensor's inputs (aligned ones included) and output, in bytes.
std::uint64_t largest_bytes(const PlannedTensor& tensor) {
  std::uint64_t element = dtype_size(tensor.output.dtype);
  for (DType d : tensor.input_dtype) element = std::max<std::uint64_t>(element, dtype_size(d));
  for (std::size_t a = 0; a < tensor.aligned_index.size(); ++a)
    if (tensor.aligned_index[a]) element = std::max<std::uint64_t>(element, dtype_size(tensor.aligned_dtype[a]));
  return element * tensor.output.elements();
}

}  // namespace

std::uint64_t held_tensor_bytes_for(const MergePlan& plan) {
  const char* hook = std::getenv("MPIMERGE_HOLD_SMALL_TENSORS");
  const std::string_view mode = hook ? hook : "";
  if (mode == "always") return kHeldTensorBytes;
  if (mode == "never") return 0;
  return plan.tensors.size() >= kHeldFromTensors ? kHeldTensorBytes : 0;
}

RowRange WorkPlan::rows(const MergePlan& plan, const WorkUnit& unit, int rank, int ranks) const {
  const int held_by = unit.tensor < holder.size() ? holder[unit.tensor] : -1;
  const RowRange slice = slice_of(plan.tensors[unit.tensor].output, held_by, rank, ranks);
  const std::uint64_t per_chunk = chunking[unit.tensor].rows_per_chunk;
  const std::uint64_t begin = std::min(slice.end, slice.begin + unit.chunk * per_chunk);
  return {begin, std::min(slice.end, begin + per_chunk)};
}

std::uint64_t WorkPlan::most_rows(const MergePlan& plan, const WorkUnit& unit, int ranks) const {
  const int held_by = unit.tensor < holder.size() ? holder[unit.tensor] : -1;
  return rows(plan, unit, std::max(0, held_by), ranks).count();
}

std::uint64_t WorkPlan::most_bytes(const MergePlan& plan, std::size_t group, int ranks, bool inputs) const {
  std::uint64_t bytes = 0;
  for (const WorkUnit& unit : groups[group]) {
    const PlannedTensor& t = plan.tensors[unit.tensor];
    const std::uint64_t elements = most_rows(plan, unit, ranks) * t.output.row_elements();
    if (inputs)
      for (DType d : t.input_dtype) bytes += elements * dtype_size(d);
    else
      bytes += elements * dtype_size(t.output.dtype);
  }
  return bytes;
}

std::uint64_t WorkPlan::largest_output_bytes(const MergePlan& plan, int ranks) const {
  std::uint64_t most = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) most = std::max(most, most_bytes(plan, g, ranks, false));
  return most;
}

std::uint64_t whole_tensor_bytes(const PlannedTensor& tensor, std::uint64_t work_bytes) {
  const std::uint64_t elements = tensor.output.elements();
  const std::uint64_t compute = tensor.compute == ComputeType::f64 ? 8 : 4;
  std::uint64_t bytes = work_bytes + elements * (compute + dtype_size(tensor.output.dtype));
  for (DType d : tensor.input_dtype) bytes += elements * (dtype_size(d) + compute);
  return bytes;
}

namespace {

// Owners and rounds of one group's whole tensors: largest cost first, each to the least loaded
// rank (the lowest on ties); each rank's tensors in that order make its share of the rounds.
void assign_owners(const std::vector<std::size_t>& members, const std::vector<std::optional<WholeTensorNeed>>& whole,
                   int ranks, WorkPlan& work) {
  std::vector<std::size_t> order = members;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return whole[a]->cost > whole[b]->cost; });
  std::vector<double> load(static_cast<std::size_t>(ranks), 0.0);
  std::vector<std::vector<std::size_t>> owned(static_cast<std::size_t>(ranks));
  for (std::size_t t : order) {
    const auto least = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    work.owner[t] = static_cast<int>(least);
    load[least] += whole[t]->cost;
    owned[least].push_back(t);
  }
  std::vector<std::vector<std::size_t>> rounds;
  for (std::size_t r = 0; r < owned.size(); ++r)
    for (std::size_t j = 0; j < owned[r].size(); ++j) {
      if (rounds.size() <= j) rounds.resize(j + 1);
      rounds[j].push_back(owned[r][j]);
    }
  work.rounds.push_back(std::move(rounds));
}

}  // namespace

WorkPlan make_work_plan(const MergePlan& plan, int ranks, std::uint64_t budget_bytes, const std::vector<bool>& skip,
                        const std::vector<std::optional<WholeTensorNeed>>& whole, std::uint64_t group_bytes_wanted,
                        std::uint64_t held_tensor_bytes) {
  WorkPlan work;
  // Groups of the size wanted; a whole tensor's group may grow to the budget when it must.
  const std::uint64_t target = group_bytes_wanted == 0 ? budget_bytes : std::min(group_bytes_wanted, budget_bytes);
  work.group_bytes_limit = target;
  work.owner.assign(plan.tensors.size(), -1);
  work.holder.assign(plan.tensors.size(), -1);
  if (ranks > 1 && held_tensor_bytes > 0) {
    auto held_bytes = [&](std::size_t t) -> std::uint64_t {  // 0: not held
      const bool is_whole = t < whole.size() && whole[t].has_value();
      const std::uint64_t bytes = largest_bytes(plan.tensors[t]);
      return is_whole || bytes > held_tensor_bytes ? 0 : bytes;
    };
    std::uint64_t total = 0;
    for (std::size_t t = 0; t < plan.tensors.size(); ++t) total += held_bytes(t);
    // Four runs per rank at least, so that a few MB of norms spread too.
    const std::uint64_t run = std::clamp<std::uint64_t>(total / (4 * static_cast<std::uint64_t>(ranks)), 1, kHeldRunBytes);
    std::uint64_t before = 0;  // bytes of the held tensors before this one
    for (std::size_t t = 0; t < plan.tensors.size(); ++t)
      if (const std::uint64_t bytes = held_bytes(t)) {
        work.holder[t] = static_cast<int>(before / run % static_cast<std::uint64_t>(ranks));
        before += bytes;
      }
  }
  std::vector<WorkUnit> group;
  std::vector<std::size_t> group_whole;  // the group's whole tensors
  std::uint64_t group_bytes = 0;         // what every rank holds of the group's split tensors
  std::vector<std::uint64_t> group_held(static_cast<std::size_t>(ranks), 0);  // per rank, of held ones
  std::uint64_t group_peak = 0;  // the largest working set of the group's whole tensors
  auto close_group = [&] {
    if (!group.empty()) {
      work.groups.push_back(std::move(group));
      assign_owners(group_whole, whole, ranks, work);
    }
    group.clear();
    group_whole.clear();
    group_bytes = 0;
    std::fill(group_held.begin(), group_held.end(), 0);
    group_peak = 0;
  };
  for (std::size_t t = 0; t < plan.tensors.size(); ++t) {
    const PlannedTensor& tensor = plan.tensors[t];
    const std::uint64_t row_bytes = std::max<std::uint64_t>(1, bytes_per_row(tensor));
    const int held_by = work.holder[t];
    const std::uint64_t most_rows = slice_of(tensor.output, held_by, std::max(0, held_by), ranks).count();
    if (row_bytes > budget_bytes)
      throw InputError("the memory budget of " + format_bytes(budget_bytes) + " per rank cannot hold one row of tensor '" +
                       tensor.output.name + "' (" + format_bytes(row_bytes) + " with every input and the output)");
    TensorChunking chunking;
    const bool is_whole = t < whole.size() && whole[t].has_value();
    std::uint64_t owner_bytes = 0;
    if (is_whole) {
      // One chunk: the owner needs every row at once.
      owner_bytes = whole_tensor_bytes(tensor, whole[t]->work_bytes);
      const std::uint64_t slice = most_rows * row_bytes;
      if (slice + owner_bytes > budget_bytes)
        throw InputError("the memory budget of " + format_bytes(budget_bytes) + " per rank cannot hold the merge of '" +
                         tensor.output.name + "' " + shape_string(tensor.output.shape) + " whole on one rank: " +
                         format_bytes(owner_bytes) + " (its inputs gathered and decoded, its output, and the method's "
                         "float64 work space) beside " + format_bytes(slice) + " of its rows; give a larger "
                         "--memory-budget, or exclude it (it is then averaged)");
      chunking.rows_per_chunk = std::max<std::uint64_t>(1, most_rows);
    } else {
      chunking.rows_per_chunk = std::max<std::uint64_t>(1, std::min(most_rows, target / row_bytes));
    }
    chunking.chunks = (most_rows + chunking.rows_per_chunk - 1) / chunking.rows_per_chunk;
    work.chunking.push_back(chunking);
    if (t < skip.size() && skip[t]) continue;
    // A tensor with no rows still gets one (empty) unit, so that it is created and listed.
    const std::uint64_t units = std::max<std::uint64_t>(1, chunking.chunks);
    for (std::uint64_t c = 0; c < units; ++c) {
      const std::uint64_t bytes = std::min(most_rows - std::min(most_rows, c * chunking.rows_per_chunk),
                                           chunking.rows_per_chunk) * row_bytes;
      // A group that merges whole tensors grows to the budget, not to the size wanted: its owners
      // merge in parallel, each its share by cost, and the more tensors a group holds, the more
      // evenly they split (in groups of one whole tensor, as the size wanted gave at 0.55B, one
      // rank merged while every other waited). The decompositions, not the reads, set the time.
      const bool whole_group = is_whole || !group_whole.empty();
      const std::uint64_t limit = whole_group ? budget_bytes : target;
      const std::uint64_t held_most = *std::max_element(group_held.begin(), group_held.end());
      const std::uint64_t held_after =
          held_by < 0 ? held_most : std::max(held_most, group_held[static_cast<std::size_t>(held_by)] + bytes);
      if (group_bytes + (held_by < 0 ? bytes : 0) + held_after + std::max(group_peak, owner_bytes) > limit) close_group();
      group.push_back({t, c});
      if (held_by < 0) group_bytes += bytes;
      else group_held[static_cast<std::size_t>(held_by)] += bytes;
      if (is_whole) {
        group_peak = std::max(group_peak, owner_bytes);
        group_whole.push_back(t);
      }
    }
  }
  close_group();
  return work;
}

}  // namespace mpimerge
