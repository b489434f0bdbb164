#pragma once
// The arithmetic of TIES-Merging (Yadav et al., 2023) over element-aligned spans, one span per
// task. These follow the paper's code, prateeky2806/ties-merging src/utils/merge_utils.py:
// topk_values_mask (trim), resolve_sign with "mass" and resolve_zero_signs("majority") (elect),
// and disjoint_merge (mean, sum, max).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

#include "mpimerge/float_bits.hpp"
#include "mpimerge/methods/options.hpp"

namespace mpimerge::ties {

// topk_values_mask keeps the entries with |tau| >= the k-th smallest |tau|, where
// k = d - int(d * density). Returns that k (1-based); 0 when nothing is cut (density 1).
std::uint64_t kth_smallest_rank(std::uint64_t d, double density);

// Magnitude keys in the width the whole selection uses: float64 keys when any tensor in the
// selection is float64 (a float converts to double exactly, so keys stay comparable).
template <class T>
std::uint64_t key_of(T x, bool wide_keys) {
  if constexpr (sizeof(T) == 8) {
    return bits::magnitude_key(x);
  } else {
    return wide_keys ? bits::magnitude_key(static_cast<double>(x)) : bits::magnitude_key(x);
  }
}

// tau = model - base, the task vector (in the compute type).
template <class T>
void task_vector(std::span<const T> model, std::span<const T> base, std::span<T> tau) {
  for (std::size_t i = 0; i < tau.size(); ++i) tau[i] = model[i] - base[i];
}

// Trim: zero every entry whose magnitude key is below the threshold key (ties are kept).
template <class T>
void trim(std::span<T> tau, std::uint64_t threshold_key, bool wide_keys) {
  for (auto& x : tau)
    if (key_of(x, wide_keys) < threshold_key) x = T(0);
}

// sign(sum_t trimmed_t), summed in task order; 0 where the sum is 0.
template <class T>
void elected_sign_before_fallback(std::span<const std::span<T>> trimmed, std::span<T> gamma) {
  for (std::size_t i = 0; i < gamma.size(); ++i) {
    T sum = T(0);
    for (const auto& task : trimmed) sum += task[i];
    gamma[i] = sum > T(0) ? T(1) : (sum < T(0) ? T(-1) : T(0));
  }
}

// resolve_zero_signs(..., "majority"): zero signs take sign(sum of all elected signs over the
// whole model), which the caller has reduced globally; when that is 0 too they stay 0.
template <class T>
void apply_zero_sign_fallback(std::span<T> gamma, int majority_sign) {
  for (auto& g : gamma)
    if (g == T(0)) g = static_cast<T>(majority_sign);
}

// disjoint_merge: the entries that agree with gamma (x > 0 where gamma > 0, else x < 0, so a zero
// gamma selects the negative entries, as the reference does), combined by mean (divided by
// their count, at least 1), sum, or max magnitude times gamma.
template <class T>
void disjoint_merge(std::span<const std::span<T>> trimmed, std::span<const T> gamma,
                    DisjointMerge how, std::span<T> out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool positive = gamma[i] > T(0);
    T sum = T(0), largest = T(0);
    unsigned count = 0;
    for (const auto& task : trimmed) {
      const T x = task[i];
      if (positive ? x > T(0) : x < T(0)) {
        sum += x;
        largest = std::max(largest, std::abs(x));
        ++count;
      }
    }
    switch (how) {
      case DisjointMerge::mean: out[i] = sum / static_cast<T>(std::max(count, 1u)); break;
      case DisjointMerge::sum: out[i] = sum; break;
      case DisjointMerge::max: out[i] = largest * gamma[i]; break;
    }
  }
}

// theta = theta_base + lambda * tau_merged, in place over the merged task vector.
template <class T>
void add_scaled_to_base(std::span<const T> base, T lambda, std::span<T> merged) {
  for (std::size_t i = 0; i < merged.size(); ++i) merged[i] = base[i] + lambda * merged[i];
}

}  // namespace mpimerge::ties
