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

#include "mpimerge/methods/ties_kernels.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge::consensus {

enum class Election { sum, count };

template <class T>
T sign_of(T x) {
  return static_cast<T>((x > T(0)) - (x < T(0)));
}

// weighted[t] = w_t * tau_t; writes merged and divisor; `majority` is scratch of out's size.
template <class T>
MPIMERGE_VECTOR_CLONES void elect_and_merge(std::span<const std::span<T>> weighted, std::span<const T> weights,
                                            Election how, std::span<T> merged, std::span<T> divisor,
                                            std::span<T> majority) {
  // Restrict pointers and one loop per array, so that each loop vectorises.
  const std::size_t n = merged.size();
  T* __restrict m = majority.data();
  T* __restrict out = merged.data();
  T* __restrict d = divisor.data();
  std::fill(m, m + n, T(0));
  for (const auto& task : weighted) {
    const T* __restrict x = task.data();
    if (how == Election::sum)
      for (std::size_t i = 0; i < n; ++i) m[i] += x[i];
    else
      for (std::size_t i = 0; i < n; ++i) m[i] += sign_of(x[i]);
  }
  for (std::size_t i = 0; i < n; ++i) m[i] = m[i] >= T(0) ? T(1) : T(-1);
  std::fill(out, out + n, T(0));
  std::fill(d, d + n, T(0));
  for (std::size_t t = 0; t < weighted.size(); ++t) {
    const T* __restrict x = weighted[t].data();
    const T w = weights[t];
    for (std::size_t i = 0; i < n; ++i) {
      const bool agrees = x[i] * m[i] > T(0);  // sign(x) == m for m = +-1; zeros and NaN never agree
      out[i] += ties::keep_if(agrees, x[i]);
      d[i] += ties::keep_if(agrees, w);
    }
  }
  for (std::size_t i = 0; i < n; ++i) d[i] = d[i] == T(0) ? T(1) : d[i];
}

}  // namespace mpimerge::consensus
