#pragma once
// The arithmetic of TIES-Merging (Yadav et al., 2023) over element-aligned spans, one span per
// task. These follow the paper's code, prateeky2806/ties-merging src/utils/merge_utils.py:
// topk_values_mask (trim), resolve_sign with "mass" and resolve_zero_signs("majority") (elect),
// and disjoint_merge (mean, sum, max).
//
// Loops run over tasks outside and elements inside, so that each inner loop is a branch-free,
// vectorisable sweep over one contiguous array; sums still add in task order, element by element.
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

// keys[i] = key_of(model[i] - base[i]): the task vector's magnitude keys, for selection.
template <class T>
void task_vector_keys(std::span<const T> model, std::span<const T> base, bool wide_keys,
                      std::span<std::uint64_t> keys) {
  if (sizeof(T) == 4 && !wide_keys) {
    for (std::size_t i = 0; i < keys.size(); ++i)
      keys[i] = std::bit_cast<std::uint32_t>(static_cast<float>(model[i] - base[i])) & 0x7FFFFFFFu;
  } else {
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = key_of<T>(model[i] - base[i], wide_keys);
  }
}

// tau = model - base, with every entry whose magnitude key is below the threshold key set to 0
// (ties at the threshold are kept).
template <class T>
void trimmed_task_vector(std::span<const T> model, std::span<const T> base, std::uint64_t threshold_key,
                         bool wide_keys, std::span<T> tau) {
  if (sizeof(T) == 4 && !wide_keys) {
    const auto threshold = static_cast<std::uint32_t>(threshold_key);
    for (std::size_t i = 0; i < tau.size(); ++i) {
      const T x = model[i] - base[i];
      tau[i] = (std::bit_cast<std::uint32_t>(static_cast<float>(x)) & 0x7FFFFFFFu) < threshold ? T(0) : x;
    }
  } else {
    for (std::size_t i = 0; i < tau.size(); ++i) {
      const T x = model[i] - base[i];
      tau[i] = key_of<T>(x, wide_keys) < threshold_key ? T(0) : x;
    }
  }
}

// The counting pass's inner loop for one task (see TiesMerge): tau = model - base; trimmed = tau
// where its key lies above the high pivot, else 0; undecided[i] set where the key lies at or
// between the pivots and tau is nonzero; and the counts against the pivots. One branch-free sweep.
struct PivotCounts {
  std::uint64_t below = 0, at_low = 0, at_high = 0, between = 0;
};

template <class T>
void classify_task_vector(std::span<const T> model, std::span<const T> base, std::uint64_t low, std::uint64_t high,
                          bool wide_keys, std::span<T> tau, std::span<T> trimmed, std::span<std::uint8_t> undecided,
                          PivotCounts& counts) {
  const std::size_t n = tau.size();
  std::uint32_t below = 0, at_low = 0, at_high = 0, between = 0;  // a block has < 2^32 elements
  if (sizeof(T) == 4 && !wide_keys) {
    const auto lo = static_cast<std::uint32_t>(low), hi = static_cast<std::uint32_t>(high);
    const std::uint32_t distinct = lo != hi;
    for (std::size_t i = 0; i < n; ++i) {
      const T x = model[i] - base[i];
      const std::uint32_t key = std::bit_cast<std::uint32_t>(static_cast<float>(x)) & 0x7FFFFFFFu;
      below += key < lo;
      at_low += key == lo;
      at_high += (key == hi) & distinct;
      between += (key > lo) & (key < hi);
      tau[i] = x;
      trimmed[i] = key > hi ? x : T(0);
      undecided[i] |= static_cast<std::uint8_t>((key >= lo) & (key <= hi) & (x != T(0)));
    }
  } else {
    const std::uint32_t distinct = low != high;
    for (std::size_t i = 0; i < n; ++i) {
      const T x = model[i] - base[i];
      const std::uint64_t key = key_of<T>(x, wide_keys);
      below += key < low;
      at_low += key == low;
      at_high += (key == high) & distinct;
      between += (key > low) & (key < high);
      tau[i] = x;
      trimmed[i] = key > high ? x : T(0);
      undecided[i] |= static_cast<std::uint8_t>((key >= low) & (key <= high) & (x != T(0)));
    }
  }
  counts.below += below;
  counts.at_low += at_low;
  counts.at_high += at_high;
  counts.between += between;
}

// gamma = sign(sum_t trimmed_t), summed in task order; 0 where the sum is 0.
template <class T>
void elected_sign_before_fallback(std::span<const std::span<T>> trimmed, std::span<T> gamma) {
  std::fill(gamma.begin(), gamma.end(), T(0));
  for (const auto& task : trimmed)
    for (std::size_t i = 0; i < gamma.size(); ++i) gamma[i] += task[i];
  for (auto& g : gamma) g = g > T(0) ? T(1) : (g < T(0) ? T(-1) : T(0));
}

// resolve_zero_signs(..., "majority"): zero signs take sign(sum of all elected signs over the
// whole model), which the caller has reduced globally; when that is 0 too they stay 0.
template <class T>
void apply_zero_sign_fallback(std::span<T> gamma, int majority_sign) {
  const T fallback = static_cast<T>(majority_sign);
  for (auto& g : gamma) g = g == T(0) ? fallback : g;
}

// disjoint_merge: the entries that agree with gamma (x > 0 where gamma > 0, else x < 0, so a zero
// gamma selects the negative entries, as the reference does), combined by mean (divided by
// their count, at least 1), sum, or max magnitude times gamma. `work` is scratch of twice out's size.
template <class T>
void disjoint_merge(std::span<const std::span<T>> trimmed, std::span<const T> gamma, DisjointMerge how,
                    std::span<T> out, std::span<T> work) {
  const std::size_t n = out.size();
  // direction = +1 where gamma > 0, else -1: x agrees exactly when x * direction > 0 (exact, and
  // free of branches, so the loops below vectorise).
  std::span<T> direction = work.first(n);
  for (std::size_t i = 0; i < n; ++i) direction[i] = gamma[i] > T(0) ? T(1) : T(-1);
  std::fill(out.begin(), out.end(), T(0));
  if (how == DisjointMerge::max) {
    for (const auto& task : trimmed)
      for (std::size_t i = 0; i < n; ++i) {
        const T x = task[i];
        out[i] = std::max(out[i], x * direction[i] > T(0) ? std::abs(x) : T(0));
      }
    for (std::size_t i = 0; i < n; ++i) out[i] *= gamma[i];
    return;
  }
  std::span<T> count = work.subspan(n, n);
  std::fill(count.begin(), count.end(), T(0));
  for (const auto& task : trimmed)
    for (std::size_t i = 0; i < n; ++i) {
      const T x = task[i];
      const bool agrees = x * direction[i] > T(0);
      out[i] += agrees ? x : T(0);
      count[i] += agrees ? T(1) : T(0);
    }
  if (how == DisjointMerge::mean)
    for (std::size_t i = 0; i < n; ++i) out[i] /= std::max(count[i], T(1));
}

// theta = theta_base + lambda * tau_merged, in place over the merged task vector.
template <class T>
void add_scaled_to_base(std::span<const T> base, T lambda, std::span<T> merged) {
  for (std::size_t i = 0; i < merged.size(); ++i) merged[i] = base[i] + lambda * merged[i];
}

}  // namespace mpimerge::ties
