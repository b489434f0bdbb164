#include "pipeline/group_slices.hpp"

#include <algorithm>

#include "mpimerge/pipeline/transfers.hpp"

namespace mpimerge {
namespace {
// Each unit's bytes start on a cache line.
std::uint64_t padded(std::uint64_t bytes) { return (bytes + 63) / 64 * 64; }
}  // namespace

GroupSlices::GroupSlices(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs, const mpi::Comm& comm)
    : plan_(plan),
      work_(work),
      inputs_(inputs),
      comm_(comm),
      arenas_(inputs.readers.size() + inputs.aligned.size()),
      data_(inputs.readers.size() + inputs.aligned.size()) {
  // Each input's buffer at the size of its largest group, once: every group then reuses it (no
  // block grown, freed and touched again as later groups come larger).
  std::vector<std::uint64_t> most(data_.size(), 0);
  for (const auto& group : work.groups) {
    std::vector<std::uint64_t> total(data_.size(), 0);
    for (const WorkUnit& unit : group) {
      const PlannedTensor& tensor = plan.tensors[unit.tensor];
      const std::uint64_t elements = work.rows(plan, unit, comm.rank(), comm.size()).count() * tensor.output.row_elements();
      for (std::size_t input = 0; input < data_.size(); ++input)
        if (const auto from = source(input, tensor)) total[input] += padded(elements * dtype_size(from->dtype));
    }
    for (std::size_t input = 0; input < data_.size(); ++input) most[input] = std::max(most[input], total[input]);
  }
  for (std::size_t input = 0; input < data_.size(); ++input) arenas_[input].reserve(most[input]);
}

std::optional<GroupSlices::Source> GroupSlices::source(std::size_t input, const PlannedTensor& tensor) const {
  const std::size_t models = inputs_.readers.size();
  if (input < models) return Source{inputs_.readers[input], tensor.input_index[input], tensor.input_dtype[input]};
  const std::size_t a = input - models;
  if (tensor.action != TensorAction::merge || !tensor.aligned_index[a]) return std::nullopt;
  return Source{inputs_.aligned[a], *tensor.aligned_index[a], tensor.aligned_dtype[a]};
}

std::uint64_t GroupSlices::elements(std::size_t i) const {
  return rows_[i].count() * plan_.tensors[units_[i].tensor].output.row_elements();
}

std::uint64_t GroupSlices::first_element(std::size_t i) const {
  return rows_[i].begin * plan_.tensors[units_[i].tensor].output.row_elements();
}

void GroupSlices::prefetch(std::size_t group) const {
  for (const WorkUnit& unit : work_.groups[group]) {
    const RowRange rows = work_.rows(plan_, unit, comm_.rank(), comm_.size());
    if (rows.empty()) continue;
    for (std::size_t input = 0; input < data_.size(); ++input)
      if (const auto from = source(input, plan_.tensors[unit.tensor])) from->reader->prefetch_rows(from->index, rows);
  }
}

void GroupSlices::load(std::size_t group) {
  if (group == group_) return;
  group_ = group;
  units_ = work_.groups[group];
  rows_.clear();
  for (const WorkUnit& u : units_) rows_.push_back(work_.rows(plan_, u, comm_.rank(), comm_.size()));
  for (std::size_t input = 0; input < data_.size(); ++input) {
    auto& buffers = data_[input];
    buffers.resize(units_.size());
    std::vector<std::uint64_t> offsets(units_.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < units_.size(); ++i) {
      const auto from = source(input, plan_.tensors[units_[i].tensor]);
      offsets[i] = total;
      if (from) total += padded(elements(i) * dtype_size(from->dtype));
    }
    const std::span<std::uint8_t> arena = arenas_[input].take(total);
    // The group's pieces of each reader, read as one batch (one collective step for its small
    // tensors); a tensor without this input (an aligned input) is the same on every rank.
    std::vector<std::pair<storage::CheckpointReader*, std::vector<storage::RowRead>>> batches;
    for (std::size_t i = 0; i < units_.size(); ++i) {
      const PlannedTensor& tensor = plan_.tensors[units_[i].tensor];
      const auto from = source(input, tensor);
      if (!from) {
        buffers[i] = {};
        continue;
      }
      if (batches.empty() || batches.back().first != from->reader) batches.emplace_back(from->reader, std::vector<storage::RowRead>{});
      auto& reads = batches.back().second;
      const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(from->dtype);
      // The unit's most rows bound everyone's: the same number of transfers on every rank.
      const std::uint64_t most_rows = work_.most_rows(plan_, units_[i], comm_.size());
      buffers[i] = arena.subspan(offsets[i], rows_[i].count() * row_bytes);
      for_each_transfer(most_rows, RowRange{0, rows_[i].count()}, row_bytes, [&](RowRange part) {
        reads.push_back({from->index, RowRange{rows_[i].begin + part.begin, rows_[i].begin + part.end},
                         buffers[i].subspan(part.begin * row_bytes, part.count() * row_bytes)});
      });
      bytes_read_ += buffers[i].size();
    }
    for (auto& [reader, reads] : batches) reader->read_rows_batch(reads);
  }
}

}  // namespace mpimerge
