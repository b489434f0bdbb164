#pragma once
// This rank's rows of every unit of one work group, for every input, as raw bytes in the input's
// dtype: the base and models first (InputSet::readers), then the aligned inputs (empty where one
// lacks the tensor). Loading a group is collective; only one group is held at a time.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mpimerge/pipeline/plan.hpp"
#include "pipeline/work_plan.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/util/byte_arena.hpp"

namespace mpimerge {

class GroupSlices {
 public:
  GroupSlices(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs, const mpi::Comm& comm);

  // Collective: reads every unit of the group, input by input. A no-op if it is already loaded.
  void load(std::size_t group);
  std::size_t loaded_group() const { return group_; }
  // Not collective: asks the inputs to start fetching this rank's rows of a group (read-ahead).
  void prefetch(std::size_t group) const;

  std::size_t units() const { return units_.size(); }
  const WorkUnit& unit(std::size_t i) const { return units_[i]; }
  RowRange rows(std::size_t i) const { return rows_[i]; }
  std::uint64_t elements(std::size_t i) const;
  std::uint64_t first_element(std::size_t i) const;  // flat index in its tensor
  std::span<const std::uint8_t> raw(std::size_t input, std::size_t i) const { return data_[input][i]; }

  std::uint64_t bytes_read() const { return bytes_read_; }  // over all loads so far

 private:
  struct Source {
    storage::CheckpointReader* reader;
    std::size_t index;  // of the tensor in the reader's list
    DType dtype;
  };
  std::optional<Source> source(std::size_t input, const PlannedTensor& tensor) const;

  const MergePlan& plan_;
  const WorkPlan& work_;
  const InputSet& inputs_;
  const mpi::Comm& comm_;
  std::size_t group_ = static_cast<std::size_t>(-1);
  std::vector<WorkUnit> units_;
  std::vector<RowRange> rows_;
  std::vector<ByteArena> arenas_;                                // per input, reused by every group
  std::vector<std::vector<std::span<std::uint8_t>>> data_;      // [input][unit], inside the arenas
  std::uint64_t bytes_read_ = 0;
};

}  // namespace mpimerge
