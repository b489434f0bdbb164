#pragma once
// RegMean (Jin et al., 2023, "Dataless Knowledge Fusion by Merging Weights of Language Models"),
// as its code computes it (bloomberg/dataless-model-merging, src/model_merge/avg_merger.py:
// regmean_mean_params, reduce_non_diag; FusionBench's merging_with_regmean_weights): for each
// linear layer with weight W_t = [out, in] and Gram matrix G_t = X_t^T X_t = [in, in] per model,
//   G'_t = w_t * (diag(G_t) + alpha * offdiag(G_t))          (alpha: reduce_non_diagonal_ratio)
//   W*^T = (sum_t G'_t)^-1 sum_t G'_t W_t^T
// i.e. each output row r solves (sum_t G'_t) w*_r = sum_t G'_t w_{t,r}: rows are independent, so
// every rank solves its own rows, sharing one LDLT factorization (float64, Eigen) of the summed
// Gram. Every parameter without Gram matrices (biases, norms, embeddings) is averaged with
// the weights, as `linear`. Gram files hold one dataset per layer, named after its weight.
#include <map>
#include <memory>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

class RegMeanMerge final : public MethodTemplate<RegMeanMerge> {
 public:
  explicit RegMeanMerge(const MethodArgs& args);
  ~RegMeanMerge() override;
  std::string_view name() const override { return "regmean"; }
  void start(const MergeShape& shape) override;
  bool wants_side_data(std::size_t tensor) const override { return has_gram_[tensor]; }
  void tensor_side_data(std::size_t tensor, std::vector<SideMatrix> matrices) override;
  void release_side_data(std::size_t tensor) override;
  bool whole_rows(std::size_t tensor) const override { return has_gram_[tensor]; }

  template <class T>
  void analyze_block(const Block<T>&) {}
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  struct Solver;  // the current tensor's factorization and weighted Grams (Eigen, in regmean.cpp)

  MethodArgs args_;
  std::vector<bool> has_gram_;                // per tensor
  std::vector<std::vector<double>> weights_;  // [tensor][model]
  std::vector<double> weight_sum_;            // per tensor
  std::vector<double> alpha_;                 // per tensor
  std::map<std::size_t, std::unique_ptr<Solver>> solvers_;  // per tensor given its Grams
};

}  // namespace mpimerge
