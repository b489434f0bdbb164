#pragma once
// What the task-singular-vector methods share (tsv_m, iso_c, iso_cts; FusionBench's
// method/task_singular_vector and method/isotropic_merging): θ = θ_base + λ · M per tensor, where
// for every 2-D tensor not excluded M comes from the singular value decompositions of the task
// vectors τ_t = θ_t − θ_base (each method's merged_update), and for every other tensor M is the
// mean of the τ_t. A matrix is merged whole on one rank (MergeMethod::whole_merge), in float64;
// the other tensors block by block, in float64 and rounded once.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpimerge/linalg/spectral.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

// The merged update is produced this many values at a time (whole rows), so that it never exists
// whole beside the output.
inline constexpr std::size_t kUpdateBlockValues = std::size_t{1} << 18;

// The task vectors of one whole matrix, in float64, made on demand from the block's base and
// models (held in the tensor's compute type).
class TaskVectors {
 public:
  explicit TaskVectors(const Block<float>& whole);
  explicit TaskVectors(const Block<double>& whole);
  std::size_t count() const { return models_f32_.empty() ? models_f64_.size() : models_f32_.size(); }
  // out[i] = θ_t[i] − θ_base[i]
  void task(std::size_t t, std::span<double> out) const;
  // out[i] = Σ_t τ_t[i], summed in model order
  void sum(std::span<double> out) const;
  bool finite() const;

 private:
  std::span<const float> base_f32_;
  std::span<const std::span<const float>> models_f32_;
  std::span<const double> base_f64_;
  std::span<const std::span<const double>> models_f64_;
};

// One matrix to merge: its place in the merge, name and shape.
struct SpectralMatrix {
  std::size_t tensor = 0;
  std::string name;
  std::size_t rows = 0, cols = 0;
};

class TaskSingularMerge : public MergeMethod {
 public:
  TaskSingularMerge(const MethodArgs& args, std::string_view name);
  std::string_view name() const override { return name_; }
  void start(const MergeShape& shape) override;
  void merge(const Block<float>& in, std::span<float> out) override;
  void merge(const Block<double>& in, std::span<double> out) override;
  std::optional<WholeMerge> whole_merge(std::size_t tensor) const override;
  void merge_whole(const Block<float>& whole, std::span<float> out) override;
  void merge_whole(const Block<double>& whole, std::span<double> out) override;
  void finish_merge(Reductions& reductions) override;
  std::vector<MethodFinding> findings() const override;

 protected:
  // The method's M for one matrix, from its T task vectors.
  virtual linalg::SpectralProduct merged_update(const SpectralMatrix& matrix, const TaskVectors& taus,
                                                linalg::SpectralStats& stats) = 0;
  // Its work space and arithmetic for an m × n matrix and T tasks.
  virtual WholeMerge cost(std::size_t rows, std::size_t cols, std::size_t tasks) const = 0;
  // The method's own per-tensor parameters, read in start() for every matrix it decomposes
  // (iso_cts: its subspace split, refused where FusionBench's would fail).
  virtual void start_matrix(const ParameterView& /*params*/, const SpectralMatrix& /*matrix*/) {}

  const MethodArgs args_;

 private:
  template <class T>
  void mean_update(const Block<T>& in, std::span<T> out) const;
  template <class T>
  void whole_update(const Block<T>& whole, std::span<T> out);

  std::string name_;
  std::vector<double> lambda_;  // per tensor
  std::vector<bool> whole_;     // per tensor: a matrix decomposed (2-D, not excluded)
  std::size_t excluded_ = 0;    // matrices averaged because an exclude pattern names them
  linalg::SpectralStats stats_;  // this rank's, then (finish_merge) every rank's
  // Per matrix shape: how many there are, and the microseconds spent merging them (this rank's,
  // then every rank's): the time per shape of the report's findings.
  struct ShapeTime {
    std::int64_t matrices = 0, microseconds = 0;
  };
  std::map<std::pair<std::uint64_t, std::uint64_t>, ShapeTime> shape_times_;
};

// The parameters every task-singular method takes: the scale λ, and the tensors to average
// instead of decomposing.
ParameterDef task_singular_lambda();
ParameterDef task_singular_exclude();

// TSV-M's components per task: FusionBench's `int(r * (1 / T))`, Python's float product truncated
// (not always r / T rounded down: r = 49, T = 49 gives 0).
std::size_t tsv_kept_per_task(std::size_t r, std::size_t tasks);

// Iso-CTS's split of r dimensions between the common subspace and T task subspaces, FusionBench's
// rounding included: c = int(r * f); c = r - round((r - c) / T) * T (half to even); d = int((r - c) / T).
// nullopt where c comes out negative (FusionBench then fails).
struct SubspaceSplit {
  std::size_t common = 0, per_task = 0;
  bool operator==(const SubspaceSplit&) const = default;
};
std::optional<SubspaceSplit> iso_cts_subspace_split(std::size_t r, std::size_t tasks, double fraction);

// The patterns of an `exclude` value: comma-separated, spaces around each ignored; "none" or ""
// is none. A pattern matches a tensor name as a shell glob (fnmatch: `*`, `?`, `[...]`), whole.
std::vector<std::string> exclude_patterns(const std::string& value);
bool excluded(const std::vector<std::string>& patterns, const std::string& tensor_name);

}  // namespace mpimerge
