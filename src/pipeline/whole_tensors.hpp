#pragma once
// The tensors a method merges whole (MergeMethod::whole_merge; owners and rounds in
// work_plan.hpp), in the merge pass of one target over the loaded group, round by round:
//   1. every rank sends its rows of the round's tensors, each input, to their owners (collective);
//   2. each owner decodes its tensor, calls merge_whole and encodes the result (errors agreed on
//      by every rank before anything else moves);
//   3. each owner sends every rank its rows of the merged tensor, into the rank's output buffer
//      of the tensor's unit (collective), which the engine then writes as any other.
// Kept apart from the block loop: the rest of the pipeline sees whole tensors as ordinary units.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "pipeline/group_slices.hpp"
#include "pipeline/phases.hpp"
#include "pipeline/work_plan.hpp"

namespace mpimerge {

// Per merged tensor (MergeShape index): whether this method merges it whole.
std::vector<bool> whole_tensors_of(const MergeMethod& method, std::size_t tensors);

// Collective. out[u] is this rank's output buffer of the group's unit u (already sized); `seconds`
// accumulates this rank's time (the target's own); round_done(bytes) follows each round with the
// output bytes of rank 0's rows of its tensors (for the progress of long merges). Returns the sum
// of those bytes. Unless `nonfinite` is null (--allow-nonfinite), the owner counts, per plan
// tensor, the merged values that are not finite in the output dtype (and of those, the ones the
// method computed so), as the sliced merge does: refused before the rename.
struct NonfiniteCounts {
  std::vector<std::uint64_t>& in_output;
  std::vector<std::uint64_t>& computed;
};
std::uint64_t merge_whole_tensors(const MergePlan& plan, const WorkPlan& work, std::size_t group,
                                  const GroupSlices& slices, const InputSet& inputs, MergeMethod& method,
                                  const mpi::Comm& comm, PhaseClock& phases, double& seconds,
                                  const std::vector<std::span<std::uint8_t>>& out,
                                  const std::function<void(std::uint64_t)>& round_done, const NonfiniteCounts* nonfinite);

}  // namespace mpimerge
