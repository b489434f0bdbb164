#pragma once
// Opening the inputs of a merge, the memory budget it runs under, and the checks on input slices.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "durability/input_pins.hpp"
#include "pipeline/group_slices.hpp"
#include "mpimerge/pipeline/plan.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

struct OpenInputs {
  std::vector<std::unique_ptr<storage::CheckpointReader>> owned;
  InputSet set;
  InputPins pins;  // every file the readers read, as it was when opened
};

// Side inputs of a merge (MethodSpec::side_inputs), one file per model each: element-aligned ones
// (Fisher diagonals) and matrices read whole (Gram matrices). Empty when the method needs none.
struct SideInputPaths {
  std::string aligned_name, matrices_name;  // "fisher", "gram": for messages
  std::vector<std::string> aligned, matrices;
};

// Collective; each open agreed on by every rank, and each input pinned as it is opened.
OpenInputs open_inputs(const std::optional<std::string>& base, const std::vector<std::string>& models,
                       const mpi::Comm& comm, const SideInputPaths& side = {});

// Per rank: the given budget, or 70% of the memory this process may use (util/memory.hpp: the
// node's, its cgroup's or Slurm's, the smallest) shared by the ranks on its node, less a fixed
// allowance for MPI, HDF5 and the program. The smallest over all ranks holds everywhere, so that
// every rank forms the same groups. Collective.
struct MemoryBudget {
  std::uint64_t bytes = 0;
  std::string source;  // where it came from, for the report
};
MemoryBudget memory_budget(std::optional<std::uint64_t> requested, const mpi::Comm& comm);

// Every side input's matrix for one merged tensor, whole, in float64 (empty ones where an input
// lacks it). Collective: every rank reads every row.
std::vector<SideMatrix> read_side_matrices(const PlannedTensor& tensor, const InputSet& inputs);

// Refuses NaN and infinity in merged inputs, aligned ones too (unless allow_nonfinite), and copied
// (non-float) tensors on which the models disagree with the base.
void check_slices(const MergePlan& plan, const InputSet& inputs, const GroupSlices& slices, bool allow_nonfinite);

}  // namespace mpimerge
