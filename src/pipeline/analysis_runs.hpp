#pragma once
// Analysis in runs of tensors. A method whose analysis of each tensor stands alone
// (MergeMethod::tensor_analysis_memory: TIES trimming per tensor) need not hold the selection
// state of every tensor at once. Where the method's memory cannot hold what all of them want
// (hundreds of per-tensor problems under a budget of a few rows), the engine runs the analysis
// passes over a run of whole tensors, with all of the method's memory for those, then over the
// next run; the merge pass is one pass over every group, as always. Each group is still read once
// per analysis pass (a run of one group once for all of them), so the reads stay what one run's
// tensors need, and not what hundreds of problems sharing the memory would need.
#include <cstdint>
#include <span>
#include <vector>

#include "mpimerge/pipeline/plan.hpp"
#include "pipeline/work_plan.hpp"

namespace mpimerge {

struct AnalysisRun {
  GroupRange groups;
  std::size_t first_tensor = 0, end_tensor = 0;  // the merged tensors in them (MergeShape::tensors)
};

// wants: per merged tensor, what its analysis wants (empty: whole-model analysis). One run over
// every group when the wants fit `memory` together or when there are none; else runs of
// consecutive groups that no tensor crosses, each as many as fit the memory (a tensor that wants
// more than all of it alone gets a run of its own, with whatever else shares its groups). Groups
// that hold no merged tensor belong to no run (nothing to analyse there).
std::vector<AnalysisRun> analysis_runs(const MergePlan& plan, const WorkPlan& work, std::span<const std::uint64_t> wants,
                                       std::uint64_t memory);

}  // namespace mpimerge
