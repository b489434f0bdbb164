#include "pipeline/analysis_runs.hpp"

#include <algorithm>
#include <numeric>

namespace mpimerge {

std::vector<AnalysisRun> analysis_runs(const MergePlan& plan, const WorkPlan& work, std::span<const std::uint64_t> wants,
                                       std::uint64_t memory) {
  const std::size_t groups = work.groups.size();
  const std::uint64_t all = std::accumulate(wants.begin(), wants.end(), std::uint64_t{0});
  if (wants.empty() || all <= memory) return {AnalysisRun{work.all_groups(), 0, plan.shape.tensors.size()}};
  std::vector<std::size_t> last_group(plan.tensors.size(), 0);
  for (std::size_t g = 0; g < groups; ++g)
    for (const WorkUnit& unit : work.groups[g]) last_group[unit.tensor] = g;

  std::vector<AnalysisRun> runs;
  AnalysisRun run, piece;  // the run being filled, and the groups since its last closing point
  bool run_has = false, piece_has = false;
  std::uint64_t run_want = 0, piece_want = 0;
  std::size_t reach = 0;  // the last group a tensor seen so far reaches
  for (std::size_t g = 0; g < groups; ++g) {
    for (const WorkUnit& unit : work.groups[g]) {
      reach = std::max(reach, last_group[unit.tensor]);
      const PlannedTensor& tensor = plan.tensors[unit.tensor];
      if (tensor.action != TensorAction::merge) continue;
      const std::size_t m = tensor.merged_index;
      if (!piece_has) {
        piece.first_tensor = m;
        piece_has = true;
      }
      piece.end_tensor = std::max(piece.end_tensor, m + 1);
      if (unit.chunk == 0) piece_want += wants[m];  // once per tensor, at its first unit
    }
    if (reach > g) continue;  // some tensor goes on into the next group
    piece.groups.end = g + 1;
    if (piece_has) {
      if (run_has && run_want + piece_want > memory) {
        runs.push_back(run);
        run_has = false;
      }
      if (!run_has) {
        run = piece;
        run_want = piece_want;
        run_has = true;
      } else {
        run.groups.end = piece.groups.end;
        run.end_tensor = piece.end_tensor;
        run_want += piece_want;
      }
    } else if (run_has) {
      runs.push_back(run);  // a gap without merged tensors ends the run: no group is passed over for nothing
      run_has = false;
    }
    piece = AnalysisRun{{g + 1, g + 1}, 0, 0};
    piece_has = false;
    piece_want = 0;
  }
  if (run_has) runs.push_back(run);
  return runs;
}

}  // namespace mpimerge
