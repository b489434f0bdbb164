#include "engine/group_slices.hpp"

#include "mpimerge/engine/transfers.hpp"

namespace mpimerge {

GroupSlices::GroupSlices(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs, const mpi::Comm& comm)
    : plan_(plan), work_(work), inputs_(inputs), comm_(comm), arenas_(inputs.readers.size()), data_(inputs.readers.size()) {}

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
    for (std::size_t input = 0; input < inputs_.readers.size(); ++input)
      inputs_.readers[input]->prefetch_rows(plan_.tensors[unit.tensor].input_index[input], rows);
  }
}

void GroupSlices::load(std::size_t group) {
  if (group == group_) return;
  group_ = group;
  units_ = work_.groups[group];
  rows_.clear();
  for (const WorkUnit& u : units_) rows_.push_back(work_.rows(plan_, u, comm_.rank(), comm_.size()));
  for (std::size_t input = 0; input < inputs_.readers.size(); ++input) {
    storage::CheckpointReader& reader = *inputs_.readers[input];
    auto& buffers = data_[input];
    buffers.resize(units_.size());
    std::vector<std::uint64_t> offsets(units_.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < units_.size(); ++i) {
      const PlannedTensor& tensor = plan_.tensors[units_[i].tensor];
      offsets[i] = total;
      total += (rows_[i].count() * tensor.output.row_elements() * dtype_size(tensor.input_dtype[input]) + 63) / 64 * 64;
    }
    const std::span<std::uint8_t> arena = arenas_[input].take(total);
    for (std::size_t i = 0; i < units_.size(); ++i) {
      const PlannedTensor& tensor = plan_.tensors[units_[i].tensor];
      const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(tensor.input_dtype[input]);
      // The unit's rows on rank 0 bound everyone's: the same number of transfers on every rank.
      const std::uint64_t unit_rows_rank0 = work_.rows(plan_, units_[i], 0, comm_.size()).count();
      buffers[i] = arena.subspan(offsets[i], rows_[i].count() * row_bytes);
      for_each_transfer(unit_rows_rank0, RowRange{0, rows_[i].count()}, row_bytes, [&](RowRange part) {
                          reader.read_rows(tensor.input_index[input],
                                           RowRange{rows_[i].begin + part.begin, rows_[i].begin + part.end},
                                           buffers[i].subspan(part.begin * row_bytes, part.count() * row_bytes));
                        });
      bytes_read_ += buffers[i].size();
    }
  }
}

}  // namespace mpimerge
