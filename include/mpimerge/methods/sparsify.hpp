#pragma once
// Sparsification of task vectors, as mergekit's mergekit/sparsify.py and PEFT's
// src/peft/utils/merge_utils.py have it, over a rank's blocks:
//   - magnitude (TIES): keep exactly int(density * n) entries of largest magnitude per tensor;
//   - magnitude_outliers (Model Breadcrumbs): drop the int(gamma * n) largest and enough of the
//     smallest to keep int(density * n);
//   - random (DARE): keep each entry with probability density;
//   - della_magprune (DELLA): keep each entry with a probability that grows with its magnitude's
//     rank in its row, from density - epsilon to density + epsilon.
// Every "largest k" here ranks magnitudes with ties broken by index, lower index first (torch's
// sort leaves ties in an unspecified order); the global order of a tensor's entries across ranks
// is the order of the rows, so the tie-break needs one exclusive prefix sum over the ranks.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "mpimerge/float_bits.hpp"
#include "mpimerge/util/counter_rng.hpp"

namespace mpimerge::sparsify {

// S(p): the p entries of largest magnitude of one task vector of one tensor, ties broken by
// index. Found as the threshold key T (the p-th largest key) and the number r of entries equal
// to T that belong to S(p) (the first r of them in index order).
struct Cut {
  enum class Kind { none, all, threshold };
  Kind kind = Kind::none;
  std::uint64_t key = 0;         // T
  std::uint64_t tied_kept = 0;   // r
  std::uint64_t tied_total = 0;  // entries equal to T in the whole tensor
  std::int64_t tied_before = 0;  // entries equal to T on lower ranks (exclusive prefix sum)
  std::int64_t tied_seen = 0;    // entries equal to T met so far on this rank, in this pass

  bool needs_tie_break() const { return kind == Kind::threshold && tied_kept < tied_total; }
  // Membership of the next entry (in index order) with this key; advances the tie count.
  bool contains(std::uint64_t k) {
    if (kind != Kind::threshold) return kind == Kind::all;
    if (k != key) return k > key;
    if (!needs_tie_break()) return true;
    return tied_before + tied_seen++ < static_cast<std::int64_t>(tied_kept);
  }
};

// The cut at descending position p of n entries: its kind, and for a threshold the 1-based rank
// of T in ascending order (what RadixSelection is asked for).
inline Cut::Kind cut_kind(std::uint64_t p, std::uint64_t n) {
  return p == 0 ? Cut::Kind::none : (p >= n ? Cut::Kind::all : Cut::Kind::threshold);
}
inline std::uint64_t ascending_rank(std::uint64_t p, std::uint64_t n) { return n - p + 1; }

// Completes a threshold cut from the selection's counts of keys below and equal to T.
inline void settle_cut(Cut& cut, std::uint64_t p, std::uint64_t n, std::uint64_t key, std::uint64_t below,
                       std::uint64_t equal) {
  const std::uint64_t above = n - below - equal;
  cut.key = key;
  cut.tied_total = equal;
  cut.tied_kept = p - above;
}

// The band kept between two cuts: entries in S(hi) but not in S(lo) (lo = 0 for plain magnitude).
// tau[i] is zeroed outside the band; keys[i] is tau[i]'s magnitude key.
template <class T>
void keep_band(std::span<const std::uint64_t> keys, Cut& lo, Cut& hi, std::span<T> tau) {
  for (std::size_t i = 0; i < tau.size(); ++i) {
    const bool in_hi = hi.contains(keys[i]);
    const bool in_lo = lo.contains(keys[i]);
    if (!in_hi || in_lo) tau[i] = T(0);
  }
}

// mergekit's magnitude_outliers: the descending positions [lo, hi) kept of n entries.
struct Band {
  std::uint64_t lo = 0, hi = 0;
};
Band magnitude_band(std::uint64_t n, double density);
Band outlier_band(std::uint64_t n, double density, double gamma);

// DARE's draw: entry `index` of model `model`'s task vector of tensor `name` survives when its
// uniform number is below the density. A pure function of (seed, model, name, index), so any
// rank draws exactly the numbers its rows need.
inline CounterRng dare_stream(std::uint64_t seed, std::size_t model, std::string_view tensor_name) {
  return CounterRng(seed, model, 0, tensor_name);
}
inline CounterRng della_stream(std::uint64_t seed, std::size_t model, std::string_view tensor_name) {
  return CounterRng(seed, model, 1, tensor_name);
}

// DELLA's magnitude ranks within one group of m entries (a row): rank_norm[j] = (rank_j - 1) /
// (m - 1), rank 1 the smallest magnitude, ties by index; 0 when m = 1 (mergekit divides 0 by 0).
// `keys` are the group's magnitude keys; `order` is scratch of m entries.
inline void normalized_ranks(std::span<const std::uint64_t> keys, std::span<std::uint32_t> order,
                             std::span<double> rank_norm) {
  const std::size_t m = keys.size();
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return keys[a] < keys[b]; });
  for (std::size_t pos = 0; pos < m; ++pos)
    rank_norm[order[pos]] = m > 1 ? static_cast<double>(pos) / static_cast<double>(m - 1) : 0.0;
}

// mergekit's della_magprune: keep probability density - epsilon + rank_norm * 2 epsilon.
inline double della_probability(double density, double epsilon, double rank_norm) {
  return (density - epsilon) + rank_norm * 2.0 * epsilon;
}

}  // namespace mpimerge::sparsify
