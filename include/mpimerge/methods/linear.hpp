#pragma once
// The methods that need no global statistics: task arithmetic (Ilharco et al., 2023) and
// weighted averaging (model soups, Wortsman et al., 2022).
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/options.hpp"

namespace mpimerge {

// theta = theta_base + lambda * sum_t tau_t, tau_t = theta_t - theta_base, summed in model order.
class TaskArithmeticMerge final : public MethodTemplate<TaskArithmeticMerge> {
 public:
  explicit TaskArithmeticMerge(const MethodOptions& options) : lambda_(options.lambda) {}
  std::string_view name() const override { return "task_arithmetic"; }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  double lambda_;
};

// theta = sum_t w_t theta_t / sum_t w_t (equal weights by default). The base, when given, only
// lends its layout; it does not enter the average (as mergekit's `linear`).
class AverageMerge final : public MethodTemplate<AverageMerge> {
 public:
  explicit AverageMerge(const MethodOptions& options) : weights_(options.weights) {}
  std::string_view name() const override { return "average"; }
  bool needs_base() const override { return false; }
  void start(const MergeShape& shape) override;

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  std::vector<double> weights_;
  double weight_sum_ = 0;
};

}  // namespace mpimerge
