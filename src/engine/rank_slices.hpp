#pragma once
// This rank's rows of every planned tensor, for every input, as raw bytes in the input's dtype.
#include <cstdint>
#include <span>
#include <vector>

#include "mpimerge/engine/plan.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

class RankSlices {
 public:
  RankSlices(const MergePlan& plan, const InputSet& inputs, const mpi::Comm& comm);

  RowRange rows(std::size_t tensor) const { return rows_[tensor]; }
  std::uint64_t elements(std::size_t tensor) const;  // this rank's element count
  std::span<const std::uint8_t> raw(std::size_t input, std::size_t tensor) const {
    return data_[input][tensor];
  }

  // Collective: reads every tensor of every input, input by input, tensor by tensor.
  void read_all(const InputSet& inputs);
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_held() const;

 private:
  const MergePlan& plan_;
  const mpi::Comm& comm_;
  std::vector<RowRange> rows_;                                 // per tensor
  std::vector<std::vector<std::vector<std::uint8_t>>> data_;   // [input][tensor]
  std::uint64_t bytes_read_ = 0;
};

}  // namespace mpimerge
