#pragma once
// Model Stock (Jang et al., 2024), as mergekit computes it (merge_methods/model_stock.py): with
// task vectors tau_i = theta_i - theta_base of N >= 2 models, per tensor,
//   cos = mean over pairs i < j of  (tau_i . tau_j) / max(|tau_i| |tau_j|, 1e-6), each clamped to [-1, 1]
//   t   = N cos / (1 + (N - 1) cos)
//   theta = t * (sum_i theta_i / N) + (1 - t) * theta_base
// With filter_wise: true, one t per vector along the last dimension (per row of a matrix); a
// tensor of at most one dimension is one vector. Dot products and norms are exact sums over all
// ranks, so t does not depend on the rank count.
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

class ModelStockMerge final : public MethodTemplate<ModelStockMerge> {
 public:
  explicit ModelStockMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "model_stock"; }
  void start(const MergeShape& shape) override;
  bool needs_pass() const override { return !measured_; }
  void finish_pass(Reductions& reductions) override;
  bool whole_rows(std::size_t tensor) const override { return per_vector(tensor); }

  template <class T>
  void analyze_block(const Block<T>& block);
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

  // t from the exact Gram entries of the task vectors, g[i * n + j] = tau_i . tau_j (n models).
  // Throws InputError naming `what` when 1 + (N - 1) cos is 0 (t undefined).
  static double interpolation(std::span<const double> gram, std::size_t n, const std::string& what);

 private:
  bool per_vector(std::size_t tensor) const;  // filter_wise over a matrix: a t per vector
  template <class T>
  void add_gram(const Block<T>& block, std::size_t begin, std::size_t end, std::span<ExactSum> sums) const;
  std::size_t pairs() const { return shape_.models * (shape_.models + 1) / 2; }

  MethodArgs args_;
  std::vector<bool> filter_wise_;   // per tensor
  std::vector<ExactSum> sums_;      // per tensor: tau_i . tau_j for i <= j
  std::vector<double> t_;           // per tensor (whole-tensor t)
  bool measured_ = false;
  std::vector<ExactSum> local_;
  std::vector<double> gram_;
};

}  // namespace mpimerge
