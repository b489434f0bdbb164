#include "engine/rank_slices.hpp"

#include "mpimerge/engine/transfers.hpp"

namespace mpimerge {

RankSlices::RankSlices(const MergePlan& plan, const InputSet& inputs, const mpi::Comm& comm)
    : plan_(plan), comm_(comm), data_(inputs.readers.size()) {
  for (const auto& t : plan.tensors) rows_.push_back(owned_rows(t.output.rows(), comm.rank(), comm.size()));
  for (auto& per_input : data_) per_input.resize(plan.tensors.size());
}

std::uint64_t RankSlices::elements(std::size_t tensor) const {
  return rows_[tensor].count() * plan_.tensors[tensor].output.row_elements();
}

std::uint64_t RankSlices::bytes_held() const {
  std::uint64_t total = 0;
  for (const auto& per_input : data_)
    for (const auto& slice : per_input) total += slice.size();
  return total;
}

void RankSlices::read_all(const InputSet& inputs) {
  for (std::size_t input = 0; input < inputs.readers.size(); ++input) {
    storage::CheckpointReader& reader = *inputs.readers[input];
    for (std::size_t t = 0; t < plan_.tensors.size(); ++t) {
      const PlannedTensor& planned = plan_.tensors[t];
      const std::uint64_t row_bytes = planned.output.row_elements() * dtype_size(planned.input_dtype[input]);
      auto& buffer = data_[input][t];
      buffer.resize(rows_[t].count() * row_bytes);
      for_each_transfer(planned.output.rows(), rows_[t], row_bytes, comm_.size(), [&](RowRange part) {
        const std::uint64_t offset = (part.begin - rows_[t].begin) * row_bytes;
        reader.read_rows(planned.input_index[input], part,
                         std::span<std::uint8_t>(buffer.data() + offset, part.count() * row_bytes));
      });
      bytes_read_ += buffer.size();
    }
  }
}

}  // namespace mpimerge
