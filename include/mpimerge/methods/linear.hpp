#pragma once
// Weighted averaging (model soups, Wortsman et al., 2022): mergekit's `linear`, and `average`.
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {

// theta = sum_t w_t theta_t / sum_t w_t (sum_t w_t theta_t with normalize: false), per tensor,
// with per-model (and per-tensor) weights, summed in model order. The base, when given, only
// lends its layout; it does not enter the average (as mergekit's `linear`). `linear` requires
// every model's weight in a job file, as mergekit does; `average` defaults them to 1.
class LinearMerge final : public MethodTemplate<LinearMerge> {
 public:
  explicit LinearMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return args_.spec->name; }
  void start(const MergeShape& shape) override;

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  MethodArgs args_;
  std::vector<std::vector<double>> weights_;  // [tensor][model]
  std::vector<double> divisor_;               // per tensor: sum of weights in the compute type, or 1
};

// The weighted average of the models' block, in the compute type: out = sum_t T(w_t) x_t / T(divisor),
// summed in model order. Shared by the methods that fall back to averaging.
template <class T>
void weighted_average(std::span<const std::span<const T>> models, std::span<const double> weights, double divisor,
                      std::span<T> out) {
  const T total = static_cast<T>(divisor);
  for (std::size_t i = 0; i < out.size(); ++i) {
    T sum = T(0);
    for (std::size_t t = 0; t < models.size(); ++t) sum += static_cast<T>(weights[t]) * models[t][i];
    out[i] = sum / total;
  }
}

}  // namespace mpimerge
