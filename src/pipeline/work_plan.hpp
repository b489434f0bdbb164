#pragma once
// How the merge fits a per-rank memory budget. Each rank's rows of a tensor are cut into chunks of
// at most rows_per_chunk rows; a unit is one chunk of one tensor; units are packed, in plan order,
// into groups whose buffers fit the budget. Chunks and groups are computed from the largest share
// (rank 0's of a split tensor, the holder's of a small one held whole; see WorkPlan::holder) and
// the smallest budget of any rank, so every rank holds the same list and makes the same
// collective calls, each for its own rows.
//
// A tensor some method merges whole (MergeMethod::whole_merge) is one unit: every rank's whole
// slice, in one group, since its owner needs all its rows at once. Its owner holds, beside the
// group's slices, the tensor whole (inputs gathered and decoded, output) and the method's work
// space; owners merge one tensor at a time, in rounds, so a group fits when its slices plus its
// largest such working set fit. Within a group the whole tensors go to ranks by cost (largest
// first, each to the least loaded rank: the same on every rank, for any rank count).
#include <cstdint>
#include <optional>
#include <vector>

#include "mpimerge/pipeline/plan.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

struct WorkUnit {
  std::size_t tensor = 0;  // index into MergePlan::tensors
  std::uint64_t chunk = 0;
};

struct TensorChunking {
  std::uint64_t rows_per_chunk = 1;
  std::uint64_t chunks = 0;  // of rank 0's slice; 0 for tensors without rows
};

// A tensor merged whole by some target: what its methods need (the most any one needs in work
// space; their arithmetic summed, as targets merge it one after the other).
struct WholeTensorNeed {
  std::uint64_t work_bytes = 0;
  double cost = 0;
};

// Groups [first, end) of a work plan: all of them, or one run of an analysis in runs.
struct GroupRange {
  std::size_t first = 0, end = 0;
};

struct WorkPlan {
  std::vector<TensorChunking> chunking;        // per tensor
  std::vector<std::vector<WorkUnit>> groups;   // every unit exactly once, in plan order
  GroupRange all_groups() const { return {0, groups.size()}; }
  std::uint64_t group_bytes_limit = 0;         // what one group may hold per rank
  bool streaming() const { return groups.size() > 1; }
  // Whole tensors: per plan tensor its owner rank (-1: merged by blocks), and per group the
  // rounds in which they are merged, each at most one tensor per rank, every owner at once.
  std::vector<int> owner;
  std::vector<std::vector<std::vector<std::size_t>>> rounds;

  // Small tensors held whole by one rank (-1: rows split across the ranks, owned_rows). A
  // checkpoint of 100k tensors of 10 KB otherwise costs every rank a read per tensor and input
  // of a few rows and a write per tensor; held whole, each rank reads, merges and writes a third
  // of the tensors, whole. Runs of consecutive tensors go to one rank (at most kHeldRunBytes
  // each, fewer for fewer held bytes, so that every rank gets several), so that its pieces of a
  // file lie side by side, in turn to every rank, balanced within a group.
  std::vector<int> holder;

  // This rank's rows of a unit (empty when its slice is shorter than the unit's most rows).
  RowRange rows(const MergePlan& plan, const WorkUnit& unit, int rank, int ranks) const;
  // The most rows any rank holds of a unit (rank 0's share, or the holder's): the number of
  // collective calls for it follows from this, the same on every rank.
  std::uint64_t most_rows(const MergePlan& plan, const WorkUnit& unit, int ranks) const;
  // Bytes of a group's slices on the rank that holds the most rows: of its inputs, or of its output.
  std::uint64_t most_bytes(const MergePlan& plan, std::size_t group, int ranks, bool inputs) const;
  // The output's most bytes in any group: the size of the merge pass's output buffer, per rank.
  std::uint64_t largest_output_bytes(const MergePlan& plan, int ranks) const;
};

// Tensors up to this size (in the largest of their inputs and output) are held whole by one rank
// when several merge: kBatchedTensorBytes, so that they are read and written independently.
inline constexpr std::uint64_t kHeldTensorBytes = storage::kBatchedTensorBytes;
// Consecutive held tensors of at most this many bytes go to one rank.
inline constexpr std::uint64_t kHeldRunBytes = std::uint64_t{4} << 20;
// Small tensors are held whole in checkpoints of at least this many tensors: there the cost per
// tensor and rank (a read per input, a write, a unit of every pass: ~30 us) adds up (100k
// tensors: seconds per pass); a dense model's few hundred tensors are split as every tensor.
inline constexpr std::size_t kHeldFromTensors = 4096;

// The held_tensor_bytes make_work_plan is given for a plan: kHeldTensorBytes from
// kHeldFromTensors tensors on, else 0. Tests set MPIMERGE_HOLD_SMALL_TENSORS=always (or never) to
// run the engine's small test checkpoints both ways.
std::uint64_t held_tensor_bytes_for(const MergePlan& plan);

// Bytes one row of a tensor costs while it is held: its raw bytes in every input (aligned inputs
// included) plus the output.
std::uint64_t bytes_per_row(const PlannedTensor& tensor);

// What the owner of a whole tensor holds while it merges it: every input's bytes gathered, the
// inputs decoded to the compute type, the output in the compute type and encoded, and the method's
// work space.
std::uint64_t whole_tensor_bytes(const PlannedTensor& tensor, std::uint64_t work_bytes);

// Throws InputError when one row of some tensor alone exceeds the budget, or a whole tensor's
// working set does not fit beside its slice (naming it). Tensors marked in `skip` (a resumed
// merge's finished ones) get no units; `whole` marks the tensors merged whole (per plan tensor).
// group_bytes: the size of group wanted (pipeline/working_set.hpp; 0: the budget); the budget stays
// the cap, and a tensor merged whole that needs more than group_bytes gets a group of its own.
// held_tensor_bytes: the largest tensor held whole by one rank (0: every tensor split).
WorkPlan make_work_plan(const MergePlan& plan, int ranks, std::uint64_t budget_bytes,
                        const std::vector<bool>& skip = {},
                        const std::vector<std::optional<WholeTensorNeed>>& whole = {},
                        std::uint64_t group_bytes = 0, std::uint64_t held_tensor_bytes = 0);

}  // namespace mpimerge
