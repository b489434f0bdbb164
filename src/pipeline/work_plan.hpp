#pragma once
// How the merge fits a per-rank memory budget. Each rank's rows of a tensor are cut into chunks of
// at most rows_per_chunk rows; a unit is one chunk of one tensor; units are packed, in plan order,
// into groups whose buffers fit the budget. Chunks and groups are computed from rank 0's share
// (the largest) and the smallest budget of any rank, so every rank holds the same list and makes
// the same collective calls, each for its own rows.
#include <cstdint>
#include <vector>

#include "mpimerge/pipeline/plan.hpp"

namespace mpimerge {

struct WorkUnit {
  std::size_t tensor = 0;  // index into MergePlan::tensors
  std::uint64_t chunk = 0;
};

struct TensorChunking {
  std::uint64_t rows_per_chunk = 1;
  std::uint64_t chunks = 0;  // of rank 0's slice; 0 for tensors without rows
};

struct WorkPlan {
  std::vector<TensorChunking> chunking;        // per tensor
  std::vector<std::vector<WorkUnit>> groups;   // every unit exactly once, in plan order
  std::uint64_t group_bytes_limit = 0;         // what one group may hold per rank
  bool streaming() const { return groups.size() > 1; }

  // This rank's rows of a unit (empty when its slice is shorter than rank 0's).
  RowRange rows(const MergePlan& plan, const WorkUnit& unit, int rank, int ranks) const;
};

// Bytes one row of a tensor costs while it is held: its raw bytes in every input (aligned inputs
// included) plus the output.
std::uint64_t bytes_per_row(const PlannedTensor& tensor);

// Throws InputError when one row of some tensor alone exceeds the budget. Tensors marked in
// `skip` (a resumed merge's finished ones) get no units.
WorkPlan make_work_plan(const MergePlan& plan, int ranks, std::uint64_t budget_bytes,
                        const std::vector<bool>& skip = {});

}  // namespace mpimerge
