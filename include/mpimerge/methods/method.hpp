#pragma once
// What a merge method is: pure arithmetic over the blocks of a rank's slices, plus the few global
// numbers it asks for through Reductions. It sees no MPI, no file and no other rank's data.
//
// The engine drives a method like this, on every rank in lock step:
//   start(shape)
//   while (needs_pass()) {
//     analyze(block) for every block of every tensor (a full pass), or only for blocks of a
//       sample of rows, about sample_fraction(tensor) of each tensor (pass_kind() == sample);
//     finish_pass(reductions);
//   }
//   merge(block, out) for every block of every tensor; finish_merge(reductions)
// A block is a run of consecutive elements of one tensor on this rank, already converted to the
// tensor's compute type (float, or double for float64 tensors). Within a pass the blocks of one
// tensor on one rank come in increasing element order, each element once, and a rank's rows of a
// tensor all precede the next rank's (so an exclusive prefix sum over ranks counts what lies at
// lower indices). Block sizes are arbitrary unless the method asks for whole rows, so a method
// must not depend on how the rows are split between ranks or blocks.
//
// Side inputs, for the methods that need data beyond the checkpoints:
//   - aligned inputs (Fisher merging: one diagonal Fisher per model) are element-aligned with the
//     models: the engine reads the same rows and hands them in Block::aligned;
//   - side matrices (RegMean: one Gram matrix per model and linear layer) are whole per-tensor
//     matrices every rank needs in full: in the merge pass, when wants_side_data(tensor), the
//     engine reads them on every rank and calls tensor_side_data(tensor, matrices) before that
//     tensor's blocks (also on ranks that hold none of its rows; possibly for several tensors
//     before their blocks), and release_side_data(tensor) after its last block.
//
// Whole tensors, for the methods that need a matrix whole (its singular vectors: tsv_m, iso_c,
// iso_cts): a tensor for which whole_merge(tensor) is set is not merged block by block. In the
// merge pass the engine gathers every input's rows of it to one rank, its owner (tensors are
// spread over ranks by WholeMerge::cost), calls merge_whole there with the tensor whole, and sends
// the merged rows back to the ranks that write them. The owner depends on the rank count, the
// data merge_whole sees does not. Whole tensors take the base and the models only (no aligned or
// side inputs), and their analysis passes, if any, see blocks as usual.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpimerge/reductions.hpp"
#include "mpimerge/dtype.hpp"
#include "mpimerge/methods/parameters.hpp"

namespace mpimerge {

template <class T>
struct Block {
  std::size_t tensor = 0;            // index into MergeShape::tensors
  std::uint64_t first_element = 0;   // flat index in the tensor of element 0 of this block
  std::span<const T> base;           // empty when the merge has no base
  std::span<const std::span<const T>> models;  // one per model, in the order given
  // One per aligned input (MergeShape::aligned_inputs), element-aligned with the models; an empty
  // span where that input lacks this tensor (MergedTensor::aligned_present).
  std::span<const std::span<const T>> aligned = {};
  std::size_t size() const { return models.empty() ? base.size() : models[0].size(); }
};

struct MergedTensor {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::uint64_t elements = 0;
  ComputeType compute = ComputeType::f32;
  std::vector<bool> aligned_present = {};  // per aligned input: does it hold this tensor
  // Per side input: the shape of its matrix for this tensor, or nullopt when it has none.
  std::vector<std::optional<std::vector<std::uint64_t>>> side_shapes = {};
  std::uint64_t row_elements() const;  // elements per row of dimension 0 (1 for 0-d and 1-D)
};

// One side input's matrix for one tensor, whole, in float64.
struct SideMatrix {
  std::vector<std::uint64_t> shape;
  std::vector<double> values;  // row-major
};

// What a method knows before it sees data: the tensors it merges (non-float tensors are copied by
// the engine and never reach a method) and the number of models.
struct MergeShape {
  std::vector<MergedTensor> tensors;
  std::size_t models = 0;
  bool has_base = false;
  std::size_t aligned_inputs = 0;  // see Block::aligned
  std::size_t side_inputs = 0;     // see MergeMethod::tensor_side_data
  std::uint64_t method_memory = 0;  // bytes per rank the method may hold beyond the slices
  // Bytes per rank the method's sample may hold: a sample pass runs before any slice is read.
  std::uint64_t sample_memory = 0;
  int ranks = 1;
  // Streaming, the output's share of the slices (its largest group, per rank) is idle until the
  // merge pass, which allocates it: the analysis passes may hold it as well (lend_idle_memory).
  std::uint64_t idle_output_memory = 0;
  std::uint64_t analysis_memory() const { return method_memory + idle_output_memory; }
  // In a run of an analysis in runs (MergeMethod::start_tensors) the slices are held: a sample
  // there takes half of the analysis memory, its batches of rows the other half.
  std::uint64_t run_sample_memory() const { return analysis_memory() / 2; }
  std::uint64_t total_elements() const;
  bool any_float64() const;
};

// One line of what a method found, for the progress log and the report ("task 0: threshold ...").
struct MethodFinding {
  std::string key;
  double value = 0;
};

enum class PassKind { full, sample };

// What merging one tensor whole costs on its owner rank.
struct WholeMerge {
  // Bytes the method holds while it merges the tensor, beyond the tensor's inputs and output
  // (which the engine counts): its float64 work space.
  std::uint64_t work_bytes = 0;
  double cost = 0;  // its arithmetic, in floating-point operations (an estimate, to balance ranks)
};

class MergeMethod {
 public:
  virtual ~MergeMethod() = default;
  virtual std::string_view name() const = 0;

  // Bytes per rank beyond the slices with which the method needs the fewest passes over this
  // shape (asked before start(); 0: none in particular). Under a small --memory-budget the planner
  // gives the methods more than their usual eighth of it, up to a quarter, to cover this
  // (pipeline/targets.cpp).
  virtual std::uint64_t memory_wanted(const MergeShape& /*shape*/) const { return 0; }
  virtual void start(const MergeShape& shape) { shape_ = shape; }
  // After start() and before any pass: MergeShape::idle_output_memory, known once the work plan is.
  virtual void lend_idle_memory(std::uint64_t bytes) { shape_.idle_output_memory = bytes; }
  virtual bool needs_pass() const { return false; }
  virtual PassKind pass_kind() const { return PassKind::full; }
  virtual double sample_fraction(std::size_t /*tensor*/) const { return 1.0; }
  // Bytes the method holds per sampled element (all models): with it, the sample pass reads a row
  // of every unit when that fits MergeShape::sample_memory, else each tensor's share exactly
  // (pipeline/sample_pass.hpp). 0: a row of every unit.
  virtual std::uint64_t sample_bytes_per_element() const { return 0; }
  // Methods whose analysis of each tensor stands alone (TIES trimming per tensor): the bytes their
  // analysis of this tensor wants for the fewest passes; nullopt (the default): one analysis of the
  // whole model. When the method's memory cannot hold every tensor's want at once, the engine
  // analyses in runs of whole tensors (pipeline/analysis_runs.hpp): first the sample pass, if the
  // method asks for one, over every tensor as usual; then for each run start_tensors, after which
  // needs_pass() holds until that run's analysis is done and the passes see blocks of those
  // tensors only. After the last run the method is ready to merge; the merge pass stays one pass
  // over every tensor. Asked after start().
  virtual std::optional<std::uint64_t> tensor_analysis_memory(std::size_t /*tensor*/) const { return std::nullopt; }
  // Merged tensors [first, end) are analysed next, with all of the method's memory.
  virtual void start_tensors(std::size_t /*first*/, std::size_t /*end*/) {}
  virtual void analyze(const Block<float>&) {}
  virtual void analyze(const Block<double>&) {}
  virtual void finish_pass(Reductions&) {}

  // Blocks of this tensor hold whole rows (of dimension 0): their first element and size are
  // multiples of MergedTensor::row_elements().
  virtual bool whole_rows(std::size_t /*tensor*/) const { return false; }
  // Whether the merge pass wants this tensor's side matrices (see the top of this file). They
  // belong to the method until the next call.
  virtual bool wants_side_data(std::size_t /*tensor*/) const { return false; }
  virtual void tensor_side_data(std::size_t /*tensor*/, std::vector<SideMatrix> /*matrices*/) {}
  virtual void release_side_data(std::size_t /*tensor*/) {}

  virtual void merge(const Block<float>& in, std::span<float> out) = 0;
  virtual void merge(const Block<double>& in, std::span<double> out) = 0;

  // Tensors merged whole (see the top of this file); nullopt: merged block by block. Known once
  // start() has run, and the same on every rank.
  virtual std::optional<WholeMerge> whole_merge(std::size_t /*tensor*/) const { return std::nullopt; }
  // On the tensor's owner only: `whole` holds every element of the tensor (first_element 0); out
  // receives all of them. The defaults throw: only methods with whole tensors implement them.
  virtual void merge_whole(const Block<float>& whole, std::span<float> out);
  virtual void merge_whole(const Block<double>& whole, std::span<double> out);
  // After every block is merged, on every rank: statistics of the merge itself (no rank-local
  // failures here; see finish_pass).
  virtual void finish_merge(Reductions&) {}

  // The method's global state once its analysis passes are done (identical on all ranks), for a
  // resumed merge to skip them; nullopt when it has none to save, and the passes are repeated.
  virtual std::optional<std::string> saved_state() const { return std::nullopt; }
  // Takes a saved state instead of the analysis passes; false if it cannot.
  virtual bool restore_state(const std::string& /*state*/) { return false; }

  // Global statistics the method computed (thresholds, kept fractions), identical on all ranks.
  virtual std::vector<MethodFinding> findings() const { return {}; }

 protected:
  MergeShape shape_;
};

// Implements the float and double entry points with one template in Derived:
//   template <class T> void analyze_block(const Block<T>&);
//   template <class T> void merge_block(const Block<T>&, std::span<T>);
template <class Derived>
class MethodTemplate : public MergeMethod {
 public:
  void analyze(const Block<float>& b) override { self().analyze_block(b); }
  void analyze(const Block<double>& b) override { self().analyze_block(b); }
  void merge(const Block<float>& b, std::span<float> out) override { self().merge_block(b, out); }
  void merge(const Block<double>& b, std::span<double> out) override { self().merge_block(b, out); }

 protected:
  template <class T>
  void analyze_block(const Block<T>&) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace mpimerge
