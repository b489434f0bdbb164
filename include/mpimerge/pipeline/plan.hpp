#pragma once
// The merge plan: which tensors the output holds, what happens to each, and the shape the method
// sees. Built identically on every rank from the inputs' metadata, before any data moves.
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

enum class TensorAction { merge, copy_from_base };

struct PlannedTensor {
  TensorInfo output;                      // name, output dtype, shape
  std::vector<std::size_t> input_index;   // this tensor's index in each input's tensor list
  std::vector<DType> input_dtype;         // its dtype in each input
  TensorAction action = TensorAction::merge;
  ComputeType compute = ComputeType::f32;
  std::size_t merged_index = 0;           // index into MergeShape::tensors (merged tensors only)
  // Merged tensors only: the tensor's index in each aligned input (nullopt where absent), its
  // dtype there, and its index in each side input.
  std::vector<std::optional<std::size_t>> aligned_index = {};
  std::vector<DType> aligned_dtype = {};
  std::vector<std::optional<std::size_t>> side_index = {};
};

struct InputSet {
  std::vector<storage::CheckpointReader*> readers;  // the base first when has_base
  bool has_base = false;
  std::string label(std::size_t input) const;  // "base (path)" / "model 2 (path)"
  // Element-aligned inputs (read row by row with the models: Fisher files) and per-tensor side
  // inputs (read whole by every rank: Gram files), one per model each when given.
  std::vector<storage::CheckpointReader*> aligned = {}, side = {};
  std::string aligned_name = "aligned", side_name = "side";  // the method's names for them: "fisher", "gram"
  std::string aligned_label(std::size_t input) const;  // "fisher 2 (path)"
  std::string side_label(std::size_t input) const;     // "gram 1 (path)"
};

struct MergePlan {
  std::vector<PlannedTensor> tensors;  // in the order of the first input
  MergeShape shape;
  std::vector<TensorInfo> output_tensors() const;
};

// Checks that every input has the same tensor names and shapes (listing every difference) and
// that non-float tensors are of one dtype; that aligned inputs hold float tensors of the models'
// shapes and side inputs float tensors, each at least one of the merged tensors; throws
// InputError otherwise. compute_in_float64 merges every float tensor in float64.
MergePlan plan_merge(const InputSet& inputs, std::optional<DType> out_dtype, bool compute_in_float64 = false);

// A hash of everything in the plan that decides which collective calls a rank makes (tensors,
// shapes, dtypes, actions, the inputs each is read from), to check that every rank built the same.
std::uint64_t plan_fingerprint(const MergePlan& plan);

// Every difference plan_merge would refuse, listed whole (for `mpimerge inspect`); empty when the
// inputs can be merged.
std::vector<std::string> merge_problems(const InputSet& inputs);

}  // namespace mpimerge
