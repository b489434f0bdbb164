#include "mpimerge/selection/sampled.hpp"

#include <algorithm>
#include <cmath>

#include "mpimerge/selection/radix.hpp"

namespace mpimerge {
namespace {

// Pivots sit this many standard deviations of the sample rank either side of k's expected place.
// Sampled keys come in runs of neighbouring rows, which are correlated, so the margin is generous;
// a miss costs a fallback pass, never a wrong answer.
constexpr double kMarginSigmas = 5.0;
constexpr double kMarginMinimum = 16.0;

}  // namespace

SampledSelection::SampledSelection(std::vector<std::uint64_t> k, std::vector<std::uint64_t> n, unsigned key_bits,
                                   std::uint64_t max_candidates)
    : problems_(k.size()), key_bits_(key_bits), max_candidates_(max_candidates - max_candidates / 4) {
  histogram_bytes_ = histogram_bytes_left_ = max_candidates / 4 * key_bytes(key_bits);
  // As many bins as give every problem a histogram within that share, a power of two in [16, 1024].
  const std::uint64_t each = k.empty() ? 0 : histogram_bytes_ / sizeof(std::int64_t) / k.size();
  histogram_bins_ = 16;
  while (histogram_bins_ < kMostHistogramBins && 2 * histogram_bins_ <= each) histogram_bins_ *= 2;
  const std::uint64_t top = key_bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << key_bits) - 1;
  for (std::size_t p = 0; p < k.size(); ++p) {
    problems_[p].k = k[p];
    problems_[p].n = n[p];
    problems_[p].high = top;
  }
}

void SampledSelection::add_sample(std::size_t p, std::span<const std::uint64_t> keys) {
  Problem& q = problems_[p];
  if (q.k == 0) return;
  if (narrow())
    for (const std::uint64_t key : keys) q.narrow.sample.push_back(static_cast<std::uint32_t>(key));
  else
    q.wide.sample.insert(q.wide.sample.end(), keys.begin(), keys.end());
}

void SampledSelection::finish_sample(Reductions& reductions) {
  choose_pivots(reductions);
  for (auto& q : problems_) {
    std::vector<std::uint32_t>().swap(q.narrow.sample);
    std::vector<std::uint64_t>().swap(q.wide.sample);
  }
}

void SampledSelection::choose_pivots(Reductions& reductions) {
  const std::size_t count = problems_.size();
  std::vector<std::int64_t> sizes(count);
  for (std::size_t p = 0; p < count; ++p)
    with_sample(problems_[p], [&](auto keys) { sizes[p] = static_cast<std::int64_t>(keys.size()); });
  reductions.sum(sizes);

  // Ranks (1-based) of the two pivots in each problem's global sample; 0 = open end.
  std::vector<std::uint64_t> ranks(2 * count, 0);
  for (std::size_t p = 0; p < count; ++p) {
    const Problem& q = problems_[p];
    const auto s = static_cast<std::uint64_t>(sizes[p]);
    if (q.k == 0 || s == 0) continue;
    const double share = static_cast<double>(q.k) / static_cast<double>(q.n);
    const double expected = share * static_cast<double>(s);
    const double margin = kMarginSigmas * std::sqrt(static_cast<double>(s) * share * (1.0 - share)) + kMarginMinimum;
    const double low = std::floor(expected - margin), high = std::ceil(expected + margin);
    if (low >= 1) ranks[2 * p] = static_cast<std::uint64_t>(low);
    if (high < static_cast<double>(s)) ranks[2 * p + 1] = static_cast<std::uint64_t>(high);
  }
  RadixSelection order(ranks, key_bits_);
  while (!order.done()) {
    for (std::size_t p = 0; p < count; ++p)
      with_sample(problems_[p], [&](auto keys) {
        order.count(2 * p, keys);
        order.count(2 * p + 1, keys);
      });
    order.finish_pass(reductions);
  }
  for (std::size_t p = 0; p < count; ++p) {
    if (ranks[2 * p] != 0) problems_[p].low = order.kth_key(2 * p);
    if (ranks[2 * p + 1] != 0) problems_[p].high = order.kth_key(2 * p + 1);
  }
}

void SampledSelection::count(std::size_t p, std::span<const std::uint64_t> keys) {
  if (problems_[p].k == 0) return;
  Counts counts;
  for (std::uint64_t key : keys) {
    switch (classify(p, key)) {
      case Class::below: ++counts.below; break;
      case Class::low: ++counts.at_low; break;
      case Class::high: ++counts.at_high; break;
      case Class::above: break;
      case Class::between: add_candidate(p, key); break;
    }
  }
  add_counts(p, counts);
}

void SampledSelection::add_counts(std::size_t p, const Counts& counts) {
  Problem& q = problems_[p];
  q.below += counts.below;
  q.at_low += counts.at_low;
  q.at_high += counts.at_high;
}

void SampledSelection::add_candidate(std::size_t p, std::uint64_t key) {
  Problem& q = problems_[p];
  if (candidates_held_ < max_candidates_) {
    if (narrow())
      q.narrow.candidates.push_back(static_cast<std::uint32_t>(key));
    else
      q.wide.candidates.push_back(key);
    ++candidates_held_;
    return;
  }
  q.overflow = true;
  if (q.overflow_bins.empty()) {
    const std::uint64_t bytes = histogram_bins_ * sizeof(std::int64_t);
    if (q.unbinned || bytes > histogram_bytes_left_) {
      q.unbinned = true;
      return;
    }
    histogram_bytes_left_ -= bytes;
    q.overflow_bins.assign(histogram_bins_, 0);
  }
  add_to_bins(q, q.overflow_bins, key);
}

template <class Key>
void SampledSelection::add_candidates_of(std::size_t p, std::span<const Key> keys) {
  Problem& q = problems_[p];
  const std::uint64_t room = candidates_held_ < max_candidates_ ? max_candidates_ - candidates_held_ : 0;
  const std::size_t held = static_cast<std::size_t>(std::min<std::uint64_t>(room, keys.size()));
  if (narrow())
    q.narrow.candidates.insert(q.narrow.candidates.end(), keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(held));
  else
    q.wide.candidates.insert(q.wide.candidates.end(), keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(held));
  candidates_held_ += held;
  for (const Key key : keys.subspan(held)) add_candidate(p, key);  // no room: binned (or not)
}

template void SampledSelection::add_candidates_of<std::uint32_t>(std::size_t, std::span<const std::uint32_t>);
template void SampledSelection::add_candidates_of<std::uint64_t>(std::size_t, std::span<const std::uint64_t>);

// Bins of 2^shift keys from low + 1: the smallest shift that spreads the keys strictly between
// the pivots over at most histogram_bins_ bins.
unsigned SampledSelection::bin_shift(const Problem& q) const {
  const std::uint64_t width = q.high - q.low - 1;  // keys strictly between; >= 1 when any is
  unsigned shift = 0;
  while (shift < 64 && ((width - 1) >> shift) >= histogram_bins_) ++shift;
  return shift;
}

void SampledSelection::add_to_bins(Problem& q, std::span<std::int64_t> bins, std::uint64_t key) const {
  ++bins[(key - q.low - 1) >> bin_shift(q)];
}

// Step 4's reduction: the histograms of the problems that overflowed on some rank (each rank bins
// the candidates it still holds and adds the bins of those it could not), summed a slice of
// problems at a time so that the reduction stays small; the bin that holds the sought rank gives
// the narrower pivots.
void SampledSelection::narrow_overflowed(Reductions& reductions, std::span<const std::uint64_t> rank_among_between) {
  std::vector<std::size_t> listed;
  for (std::size_t p = 0; p < problems_.size(); ++p)
    if (rank_among_between[p] != 0) listed.push_back(p);
  const std::size_t bins = histogram_bins_;
  const std::size_t per_call = std::max<std::size_t>(1, (std::size_t{4} << 20) / (bins * sizeof(std::int64_t)));
  std::vector<std::int64_t> histograms;
  for (std::size_t first = 0; first < listed.size(); first += per_call) {
    const std::size_t count = std::min(per_call, listed.size() - first);
    histograms.assign(count * bins, 0);
    for (std::size_t i = 0; i < count; ++i) {
      Problem& q = problems_[listed[first + i]];
      const std::span<std::int64_t> mine(histograms.data() + i * bins, bins);
      if (!q.overflow_bins.empty()) std::copy(q.overflow_bins.begin(), q.overflow_bins.end(), mine.begin());
      with_candidates(q, [&](auto keys) {
        for (const auto key : keys) add_to_bins(q, mine, key);
      });
    }
    reductions.sum(histograms);
    for (std::size_t i = 0; i < count; ++i) {
      Problem& q = problems_[listed[first + i]];
      const unsigned shift = bin_shift(q);
      std::uint64_t seen = 0;
      for (std::size_t b = 0; b < bins; ++b) {
        const auto in_bin = static_cast<std::uint64_t>(histograms[i * bins + b]);
        if (seen + in_bin < rank_among_between[listed[first + i]]) {
          seen += in_bin;
          continue;
        }
        // The bin holds keys [low + 1 + b 2^shift, low + (b + 1) 2^shift]: strictly between these.
        const std::uint64_t first_key = q.low + 1 + (std::uint64_t{b} << shift);
        q.refined_low = first_key - 1;
        q.refined_high = (shift < 64 && ((q.high - first_key) >> shift) != 0) ? first_key + (std::uint64_t{1} << shift)
                                                                              : q.high;
        break;
      }
    }
  }
}

bool SampledSelection::refine() {
  for (const Problem& q : problems_)
    if (q.k != 0 && q.failed && q.refined_low == q.refined_high) return false;
  for (Problem& q : problems_) {
    if (q.k == 0) continue;
    if (q.failed) {
      q.low = q.refined_low;
      q.high = q.refined_high;
    } else {
      q.low = q.high = q.answer;  // classified exactly: below, at, or above the answer
    }
    q.below = q.at_low = q.at_high = 0;
    q.overflow = q.failed = q.unbinned = false;
    q.answer = q.answer_below = q.answer_equal = 0;
    q.refined_low = q.refined_high = 0;
  }
  return true;
}

void SampledSelection::finish_count(Reductions& reductions) {
  const std::size_t count = problems_.size();
  constexpr std::size_t kFields = 6;  // below, at_low, between, at_high, overflow, unbinned
  std::vector<std::int64_t> totals(kFields * count);
  for (std::size_t p = 0; p < count; ++p) {
    const Problem& q = problems_[p];
    std::int64_t between = 0;  // held, and binned after an overflow
    with_candidates(q, [&](auto keys) { between = static_cast<std::int64_t>(keys.size()); });
    for (const std::int64_t in_bin : q.overflow_bins) between += in_bin;
    const std::int64_t fields[kFields] = {static_cast<std::int64_t>(q.below), static_cast<std::int64_t>(q.at_low),
                                          between,
                                          static_cast<std::int64_t>(q.at_high), q.overflow ? 1 : 0,
                                          q.unbinned ? 1 : 0};
    std::copy(fields, fields + kFields, totals.begin() + static_cast<std::ptrdiff_t>(kFields * p));
  }
  reductions.sum(totals);

  std::vector<std::uint64_t> among(count, 0);  // rank sought among the candidates
  std::vector<std::uint64_t> among_binned(count, 0);  // the same, for overflowed problems
  bool any_binned = false;
  for (std::size_t p = 0; p < count; ++p) {
    Problem& q = problems_[p];
    if (q.k == 0) continue;
    const auto* t = totals.data() + kFields * p;
    const auto below = static_cast<std::uint64_t>(t[0]), at_low = static_cast<std::uint64_t>(t[1]),
               between = static_cast<std::uint64_t>(t[2]), at_high = static_cast<std::uint64_t>(t[3]);
    if (t[4] != 0 || q.k <= below || q.k > below + at_low + between + at_high) {
      q.failed = true;
      // Overflowed, every key counted (held or binned), and the answer strictly between: step 4.
      if (t[4] != 0 && t[5] == 0 && q.k > below + at_low && q.k <= below + at_low + between) {
        among_binned[p] = q.k - below - at_low;
        any_binned = true;
      }
    } else if (q.k <= below + at_low) {
      q.answer = q.low, q.answer_below = below, q.answer_equal = at_low;
    } else if (q.k <= below + at_low + between) {
      among[p] = q.k - below - at_low;
      q.answer_below = below + at_low;
    } else {
      q.answer = q.high, q.answer_below = below + at_low + between, q.answer_equal = at_high;
    }
  }
  if (any_binned) narrow_overflowed(reductions, among_binned);
  RadixSelection exact(among, key_bits_);
  while (!exact.done()) {
    for (std::size_t p = 0; p < count; ++p) with_candidates(problems_[p], [&](auto keys) { exact.count(p, keys); });
    exact.finish_pass(reductions);
  }
  for (std::size_t p = 0; p < count; ++p) {
    Problem& q = problems_[p];
    if (among[p] != 0) {
      q.answer = exact.kth_key(p);
      q.answer_below += exact.count_below(p);
      q.answer_equal = exact.count_equal(p);
    }
    std::vector<std::uint32_t>().swap(q.narrow.candidates);
    std::vector<std::uint64_t>().swap(q.wide.candidates);
    std::vector<std::int64_t>().swap(q.overflow_bins);
  }
  candidates_held_ = 0;
  histogram_bytes_left_ = histogram_bytes_;
}

}  // namespace mpimerge
