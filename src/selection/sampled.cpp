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
    : problems_(k.size()), key_bits_(key_bits), max_candidates_(max_candidates) {
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
  } else {
    q.overflow = true;
  }
}

void SampledSelection::finish_count(Reductions& reductions) {
  const std::size_t count = problems_.size();
  constexpr std::size_t kFields = 5;  // below, at_low, between, at_high, overflow
  std::vector<std::int64_t> totals(kFields * count);
  for (std::size_t p = 0; p < count; ++p) {
    const Problem& q = problems_[p];
    std::int64_t candidates = 0;
    with_candidates(q, [&](auto keys) { candidates = static_cast<std::int64_t>(keys.size()); });
    const std::int64_t fields[kFields] = {static_cast<std::int64_t>(q.below), static_cast<std::int64_t>(q.at_low),
                                          candidates,
                                          static_cast<std::int64_t>(q.at_high), q.overflow ? 1 : 0};
    std::copy(fields, fields + kFields, totals.begin() + static_cast<std::ptrdiff_t>(kFields * p));
  }
  reductions.sum(totals);

  std::vector<std::uint64_t> among(count, 0);  // rank sought among the candidates
  for (std::size_t p = 0; p < count; ++p) {
    Problem& q = problems_[p];
    if (q.k == 0) continue;
    const auto* t = totals.data() + kFields * p;
    const auto below = static_cast<std::uint64_t>(t[0]), at_low = static_cast<std::uint64_t>(t[1]),
               between = static_cast<std::uint64_t>(t[2]), at_high = static_cast<std::uint64_t>(t[3]);
    if (t[4] != 0 || q.k <= below || q.k > below + at_low + between + at_high) {
      q.failed = true;
    } else if (q.k <= below + at_low) {
      q.answer = q.low, q.answer_below = below, q.answer_equal = at_low;
    } else if (q.k <= below + at_low + between) {
      among[p] = q.k - below - at_low;
      q.answer_below = below + at_low;
    } else {
      q.answer = q.high, q.answer_below = below + at_low + between, q.answer_equal = at_high;
    }
  }
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
  }
  candidates_held_ = 0;
}

}  // namespace mpimerge
