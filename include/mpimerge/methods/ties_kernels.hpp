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
#include <type_traits>

#include "mpimerge/float_bits.hpp"
#include "mpimerge/methods/options.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {

// How TIES combines the entries that agree with the elected sign (the paper's code: merge_func).
enum class DisjointMerge { mean, sum, max };

}  // namespace mpimerge

namespace mpimerge::ties {

// x where keep is true, else +0, without a branch: the loops below stay vectorisable.
template <class T>
inline T keep_if(bool keep, T x) {
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  return std::bit_cast<T>(std::bit_cast<Bits>(x) & (Bits{0} - static_cast<Bits>(keep)));
}

// keep ? x : y, by its bits, without a branch (the compiler may branch on a ternary).
template <class T>
inline T select(bool keep, T x, T y) {
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  const Bits mask = Bits{0} - static_cast<Bits>(keep);
  return std::bit_cast<T>((std::bit_cast<Bits>(x) & mask) | (std::bit_cast<Bits>(y) & ~mask));
}

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

// keys[i] = key_of(model[i] - base[i]): the task vector's magnitude keys, for selection.
template <class T>
MPIMERGE_VECTOR_CLONES void task_vector_keys(std::span<const T> model, std::span<const T> base, bool wide_keys,
                      std::span<std::uint64_t> keys) {
  if (sizeof(T) == 4 && !wide_keys) {
    for (std::size_t i = 0; i < keys.size(); ++i)
      keys[i] = std::bit_cast<std::uint32_t>(static_cast<float>(model[i] - base[i])) & 0x7FFFFFFFu;
  } else {
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = key_of<T>(model[i] - base[i], wide_keys);
  }
}

// trimmed_task_vector's loop for float entries and 32-bit keys, with restrict parameters (see
// classify_narrow).
template <bool First>
inline std::uint32_t trim_narrow(const float* __restrict m, const float* __restrict b, std::size_t n,
                                 std::uint32_t threshold, float* __restrict out, float* __restrict sums) {
  std::uint32_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = m[i] - b[i];
    const bool keep = (std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu) >= threshold;
    const float trimmed = keep_if(keep, x);
    out[i] = trimmed;
    sums[i] = (First ? 0.0f : sums[i]) + trimmed;
    kept += static_cast<std::uint32_t>(keep & (x != 0.0f));
  }
  return kept;
}

// tau = model - base, with every entry whose magnitude key is below the threshold key set to 0
// (ties at the threshold are kept); each trimmed entry is also added to sums[i], in task order as
// the caller calls it (first: the sums start from 0): the elected signs' sums, with no sweep of
// their own.
template <class T>
MPIMERGE_VECTOR_CLONES std::uint64_t trimmed_task_vector(std::span<const T> model, std::span<const T> base,
                                                         std::uint64_t threshold_key, bool wide_keys, std::span<T> tau,
                                                         std::span<T> sums, bool first) {
  // Returns the entries kept (nonzero), counted as wide as the elements so that the loop vectorises.
  using Count = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  const T* __restrict m = model.data();
  const T* __restrict b = base.data();
  T* __restrict out = tau.data();
  const std::size_t n = tau.size();
  if constexpr (sizeof(T) == 4) {
    if (!wide_keys) {
      const auto threshold = static_cast<std::uint32_t>(threshold_key);
      return first ? trim_narrow<true>(m, b, n, threshold, out, sums.data())
                   : trim_narrow<false>(m, b, n, threshold, out, sums.data());
    }
  }
  // Float64, or float with wide keys: simple loops of one element width each.
  Count kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const T x = m[i] - b[i];
    const bool keep = key_of<T>(x, wide_keys) >= threshold_key;
    out[i] = keep_if(keep, x);
    kept += static_cast<Count>(keep & (x != T(0)));
  }
  T* __restrict sum = sums.data();
  if (first) std::fill(sum, sum + n, T(0));
  for (std::size_t i = 0; i < n; ++i) sum[i] += out[i];
  return kept;
}

// The counting pass's inner loop for one task (see TiesMerge): tau = model - base; the provisional
// trim keeps keys at or above the high pivot (the threshold, once found, is no higher) and cuts
// the rest; a nonzero entry at the low pivot or between the pivots is undecided, its fate waiting
// for the threshold, and marks its parameter in undecided[i]: kNoneUndecided, the task + 1 of its
// only undecided entry, or kSeveralUndecided. Two sums per parameter, in task order as
// trimmed_task_vector's sums add (the first task starts them from 0): sums_if_cut[i] with every
// undecided entry cut, sums_if_kept[i] with every one kept (for a parameter with one undecided
// entry, the two signs it may elect). The counts against the pivots go to counts. The keys are not
// stored: tally_undecided recomputes them for the few parameters that need them (tau is: reading
// it back was faster there than subtracting again, in bench/ties_kernels_bench's f32 rows).
struct PivotCounts {
  std::uint64_t below = 0, at_low = 0, at_high = 0, between = 0;
};
inline constexpr std::uint32_t kNoneUndecided = 0, kSeveralUndecided = 0xFFFFFFFFu;

// A parameter's undecided mark after one more task's entry, without a branch.
inline std::uint32_t mark_undecided(std::uint32_t mark, bool undecided, std::uint32_t task) {
  const std::uint32_t next = mark == kNoneUndecided ? task + 1 : kSeveralUndecided;
  return undecided ? next : mark;
}

// classify_task_vector's loop for float entries and 32-bit keys, whole: one element width, so
// GCC 12 vectorises it fused, loading the inputs once and storing each array once. It takes its
// arrays as restrict parameters: GCC ignores restrict on local pointers and gives up on the run-time
// alias checks that several arrays need. The first task writes sums and marks without reading them.
template <bool First>
inline void classify_narrow(const float* __restrict m, const float* __restrict b, std::size_t n, std::uint32_t lo,
                            std::uint32_t hi, std::uint32_t task, float* __restrict t, float* __restrict if_cut,
                            float* __restrict if_kept, std::uint32_t* __restrict marks, std::uint32_t& below_out,
                            std::uint32_t& at_low_out, std::uint32_t& at_high_out, std::uint32_t& kept_out) {
  std::uint32_t below = 0, at_low = 0, at_high = 0, kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = m[i] - b[i];
    const std::uint32_t key = std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu;
    const bool keep = key >= hi, maybe = key >= lo;
    t[i] = x;
    if_cut[i] = (First ? 0.0f : if_cut[i]) + keep_if(keep, x);
    if_kept[i] = (First ? 0.0f : if_kept[i]) + keep_if(maybe, x);
    const bool undecided = maybe & !keep & (x != 0.0f);
    marks[i] = First ? (undecided ? task + 1 : kNoneUndecided) : mark_undecided(marks[i], undecided, task);
    below += !maybe;
    at_low += key == lo;
    at_high += key == hi;
    kept += keep;
  }
  below_out = below;
  at_low_out = at_low;
  at_high_out = at_high;
  kept_out = kept;
}

// `keys` is scratch of n keys for the loops of other widths (float64, or float with wide keys).
template <class T, class Key>
MPIMERGE_VECTOR_CLONES void classify_task_vector(std::span<const T> model, std::span<const T> base, std::uint64_t low,
                                                 std::uint64_t high, bool wide_keys, std::uint32_t task, bool first,
                                                 std::span<T> tau, std::span<T> sums_if_cut, std::span<T> sums_if_kept,
                                                 std::span<std::uint32_t> undecided, std::span<Key> keys,
                                                 PivotCounts& counts) {
  const std::size_t n = tau.size();
  const T* __restrict m = model.data();
  const T* __restrict b = base.data();
  T* __restrict t = tau.data();
  T* __restrict if_cut = sums_if_cut.data();
  T* __restrict if_kept = sums_if_kept.data();
  std::uint32_t* __restrict marks = undecided.data();
  const Key lo = static_cast<Key>(low), hi = static_cast<Key>(high);
  Key below = 0, at_low = 0, at_high = 0, kept = 0;  // a block has < 2^32 elements
  if constexpr (sizeof(Key) == 4 && sizeof(T) == 4) {
    if (first)
      classify_narrow<true>(m, b, n, lo, hi, task, t, if_cut, if_kept, marks, below, at_low, at_high, kept);
    else
      classify_narrow<false>(m, b, n, lo, hi, task, t, if_cut, if_kept, marks, below, at_low, at_high, kept);
  } else {
    // Simple loops of one element width each, over restrict pointers, so that every one
    // vectorises (mixed widths fused into one loop do not).
    Key* __restrict k = keys.data();
    for (std::size_t i = 0; i < n; ++i) t[i] = m[i] - b[i];
    for (std::size_t i = 0; i < n; ++i) k[i] = key_of<T>(t[i], wide_keys);
    for (std::size_t i = 0; i < n; ++i) {
      below += k[i] < lo;
      at_low += k[i] == lo;
      at_high += k[i] == hi;
      kept += k[i] >= hi;
    }
    if (first) {
      std::fill(if_cut, if_cut + n, T(0));
      std::fill(if_kept, if_kept + n, T(0));
      std::fill(marks, marks + n, kNoneUndecided);
    }
    for (std::size_t i = 0; i < n; ++i) if_cut[i] += keep_if(k[i] >= hi, t[i]);
    for (std::size_t i = 0; i < n; ++i) if_kept[i] += keep_if(k[i] >= lo, t[i]);
    for (std::size_t i = 0; i < n; ++i)
      marks[i] = mark_undecided(marks[i], (k[i] >= lo) & (k[i] < hi) & (t[i] != T(0)), task);
  }
  // Strictly between: neither below, at the low pivot, nor at or above the high one.
  const std::uint64_t between = lo < hi ? n - below - at_low - kept : 0;
  if (lo == hi) at_high = 0;  // counted as at_low
  counts.below += below;
  counts.at_low += at_low;
  counts.at_high += at_high;
  counts.between += between;
}

// The counting pass, once every task is classified: each sum becomes its sign (as
// elected_signs gives it before the zero-sum fallback), and the parameters without undecided entries, whose sign is
// final, are counted by sign; returns how many are undecided.
template <class T>
MPIMERGE_VECTOR_CLONES std::uint64_t sign_provisional_sums(std::span<T> sums, std::span<const std::uint32_t> undecided,
                                                           std::int64_t& positive, std::int64_t& negative) {
  using Count = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;  // a block has < 2^32
  T* __restrict s = sums.data();
  const std::uint32_t* __restrict marks = undecided.data();
  Count up = 0, down = 0, waiting = 0;
  for (std::size_t i = 0; i < sums.size(); ++i) {
    const bool up_i = s[i] > T(0), down_i = s[i] < T(0), decided = marks[i] == kNoneUndecided;
    s[i] = keep_if(up_i, T(1)) - keep_if(down_i, T(1));
    up += up_i & decided;
    down += down_i & decided;
    waiting += !decided;
  }
  positive += static_cast<std::int64_t>(up);
  negative += static_cast<std::int64_t>(down);
  return waiting;
}

// gamma = sign(sum_t trimmed_t), from the sums trimmed_task_vector made (in task order), in place;
// a zero sum takes resolve_zero_signs(..., "majority"): the sign of the sum of all elected signs
// over the whole model, which the caller has reduced globally (when that is 0 too it stays 0).
template <class T>
MPIMERGE_VECTOR_CLONES void elected_signs(std::span<T> sums, int majority_sign) {
  const T fallback = static_cast<T>(majority_sign);
  T* __restrict g = sums.data();
  for (std::size_t i = 0; i < sums.size(); ++i)
    g[i] = select(g[i] > T(0), T(1), select(g[i] < T(0), T(-1), fallback));
}

// disjoint_merge: the entries that agree with gamma (x > 0 where gamma > 0, else x < 0, so a zero
// gamma selects the negative entries, as the reference does), combined by mean (divided by
// their count, at least 1), sum, or max magnitude times gamma. `work` is scratch of twice out's size.
template <class T>
MPIMERGE_VECTOR_CLONES std::uint64_t disjoint_merge(std::span<const std::span<T>> trimmed, std::span<const T> gamma,
                                                    DisjointMerge how, std::span<T> out, std::span<T> work) {
  // Returns how many entries agreed (entered the merge): with the kept entries of
  // trimmed_task_vector, the paper's sign conflicts (kept - agreed), at no extra pass.
  using Count = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  const std::size_t n = out.size();
  // direction = +1 where gamma > 0, else -1: x agrees exactly when x * direction > 0 (exact, and
  // free of branches, so the loops below vectorise).
  T* __restrict direction = work.data();
  T* __restrict count = work.data() + n;
  T* __restrict result = out.data();
  const T* __restrict g = gamma.data();
  std::uint64_t agreed = 0;
  for (std::size_t i = 0; i < n; ++i) direction[i] = g[i] > T(0) ? T(1) : T(-1);
  std::fill(out.begin(), out.end(), T(0));
  if (how == DisjointMerge::max) {
    for (const auto& task : trimmed) {
      const T* __restrict x = task.data();
      Count agreeing = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const bool agrees = x[i] * direction[i] > T(0);
        result[i] = std::max(result[i], keep_if(agrees, std::abs(x[i])));
        agreeing += static_cast<Count>(agrees);
      }
      agreed += agreeing;
    }
    for (std::size_t i = 0; i < n; ++i) result[i] *= g[i];
    return agreed;
  }
  std::fill(count, count + n, T(0));
  for (const auto& task : trimmed) {
    const T* __restrict x = task.data();
    Count agreeing = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool agrees = x[i] * direction[i] > T(0);
      result[i] += keep_if(agrees, x[i]);
      count[i] += keep_if(agrees, T(1));
      agreeing += static_cast<Count>(agrees);
    }
    agreed += agreeing;
  }
  if (how == DisjointMerge::mean)
    for (std::size_t i = 0; i < n; ++i) result[i] /= std::max(count[i], T(1));
  return agreed;
}

// theta = theta_base + lambda * tau_merged, in place over the merged task vector.
template <class T>
MPIMERGE_VECTOR_CLONES void add_scaled_to_base(std::span<const T> base, T lambda, std::span<T> merged) {
  const T* __restrict b = base.data();
  T* __restrict m = merged.data();
  for (std::size_t i = 0; i < merged.size(); ++i) m[i] = b[i] + lambda * m[i];
}

}  // namespace mpimerge::ties
