#pragma once
// Fisher-weighted averaging (Matena & Raffel, 2022), as the paper's code computes it
// (mmatena/model_merging, model_merging/merging.py: _merge_with_coeffs, generate_merged_for_coeffs_set):
//   theta = sum_t c_t F_t theta_t / sum_t c_t F_t          per parameter
// from each model's diagonal Fisher F_t (a file per model with the models' tensor names, which
// the engine reads row-aligned with the models), where
//   c_t = weight_t / ||F_t||_2     with normalize_fisher (the L2 norm over all of F_t's tensors)
//   F_t = max(F_t, fisher_floor)   for the first model only with favor_target_model (the paper's
//                                  default), for every model without it.
// Tensors without a Fisher (in no model's file) are averaged with the weights, as `linear`; an
// element whose denominator is 0 takes the weighted average too, so no NaN arises. Sums are in
// float64; the norms are exact sums over all ranks.
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

class FisherMerge final : public MethodTemplate<FisherMerge> {
 public:
  explicit FisherMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "fisher"; }
  void start(const MergeShape& shape) override;
  bool needs_pass() const override { return !measured_; }
  void finish_pass(Reductions& reductions) override;
  std::vector<MethodFinding> findings() const override;

  template <class T>
  void analyze_block(const Block<T>& block);
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  MethodArgs args_;
  std::vector<bool> has_fisher_;             // per tensor
  std::vector<std::vector<double>> weights_; // [tensor][model]
  std::vector<double> weight_sum_;           // per tensor
  double floor_ = 1e-6;
  bool favor_target_ = true, normalize_ = true, measured_ = false;
  std::vector<ExactSum> squares_;            // per model: sum of F^2
  std::vector<double> scale_;                // per model: 1 / ||F|| (or 1)
  bool normalized_ = false;                  // a norm pass ran
};

}  // namespace mpimerge
