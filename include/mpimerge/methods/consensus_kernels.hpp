#pragma once
// Sign election and disjoint merge as mergekit and PEFT have them (mergekit
// merge_methods/generalized_task_arithmetic.py: get_mask and GTATask.execute; PEFT
// utils/merge_utils.py: calculate_majority_sign_mask, disjoint_merge). The paper's own rules
// (zero sums fall back to a global majority, no weights) are in ties_kernels.hpp.
//
// Over weighted task vectors x_t = w_t * tau_t, per parameter:
//   majority = +1 when sum_t x_t >= 0 (`sum`) or sum_t sign(x_t) >= 0 (`count`), else -1:
//     a zero sum elects +;
//   an entry agrees when sign(x_t) == majority (zeros never agree);
//   merged = sum of the agreeing x_t, divisor = sum of the agreeing w_t (1 where that is 0).
// Loops run over tasks outside and elements inside, summing in task order.
#include <algorithm>
#include <span>

namespace mpimerge::consensus {

enum class Election { sum, count };

template <class T>
T sign_of(T x) {
  return static_cast<T>((x > T(0)) - (x < T(0)));
}

// weighted[t] = w_t * tau_t; writes merged and divisor; `majority` is scratch of out's size.
template <class T>
void elect_and_merge(std::span<const std::span<T>> weighted, std::span<const T> weights, Election how,
                     std::span<T> merged, std::span<T> divisor, std::span<T> majority) {
  const std::size_t n = merged.size();
  std::fill(majority.begin(), majority.end(), T(0));
  for (const auto& x : weighted)
    for (std::size_t i = 0; i < n; ++i) majority[i] += how == Election::sum ? x[i] : sign_of(x[i]);
  for (auto& s : majority) s = s >= T(0) ? T(1) : T(-1);
  std::fill(merged.begin(), merged.end(), T(0));
  std::fill(divisor.begin(), divisor.end(), T(0));
  for (std::size_t t = 0; t < weighted.size(); ++t) {
    const auto& x = weighted[t];
    for (std::size_t i = 0; i < n; ++i) {
      const bool agrees = sign_of(x[i]) == majority[i];
      merged[i] += agrees ? x[i] : T(0);
      divisor[i] += agrees ? weights[t] : T(0);
    }
  }
  for (auto& d : divisor) d = d == T(0) ? T(1) : d;
}

}  // namespace mpimerge::consensus
