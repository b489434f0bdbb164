#include "mpimerge/selection/sampled.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "mpimerge/selection/radix.hpp"

namespace mpimerge {
namespace {

// Pivots sit this many standard deviations of the sample rank either side of k's expected place.
// Sampled keys come in runs of neighbouring rows, which are correlated, so the margin is generous;
// a miss costs a fallback pass, never a wrong answer.
constexpr double kMarginSigmas = 5.0;
constexpr double kMarginMinimum = 16.0;
constexpr double kExtremeMiss = 1e-3;

}  // namespace

SampledSelection::SampledSelection(std::vector<std::uint64_t> k, std::vector<std::uint64_t> n, unsigned key_bits,
                                   std::uint64_t max_candidates, std::uint64_t bins_first_bytes)
    : problems_(k.size()), key_bits_(key_bits), max_candidates_(max_candidates - max_candidates / 4) {
  memory_bytes_ = max_candidates * key_bytes(key_bits);
  bins_first_bytes_ = std::max(memory_bytes_, bins_first_bytes);
  histogram_bytes_ = histogram_bytes_left_ = max_candidates / 4 * key_bytes(key_bits);
  // As many bins as give every problem a histogram within that share, in [16, kMostHistogramBins].
  const std::uint64_t each = k.empty() ? 0 : histogram_bytes_ / sizeof(std::int64_t) / k.size();
  const auto bins = static_cast<std::size_t>(std::clamp<std::uint64_t>(each, 16, kMostHistogramBins));
  const std::uint64_t top = key_bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << key_bits) - 1;
  for (std::size_t p = 0; p < k.size(); ++p) {
    problems_[p].k = k[p];
    problems_[p].n = n[p];
    problems_[p].high = top;
    problems_[p].bins = bins;
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
  std::vector<std::int64_t> sizes(count + 1);
  for (std::size_t p = 0; p < count; ++p)
    with_sample(problems_[p], [&](auto keys) { sizes[p] = static_cast<std::int64_t>(keys.size()); });
  sizes[count] = 1;  // summed: the number of ranks
  reductions.sum(sizes);
  const auto ranks_count = static_cast<double>(std::max<std::int64_t>(1, sizes[count]));

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
    // Where the margin reaches past the sample's ends: its extreme key, if rank k lies beyond it
    // only with a small chance (every sampled key on one side of it). An open end would leave the
    // bins of bins_first to span every key up to infinity and narrow nothing (a thinned sample of
    // tens of keys per problem); a miss costs a fallback pass, never a wrong answer.
    const double samples = static_cast<double>(s);
    if (low >= 1) ranks[2 * p] = static_cast<std::uint64_t>(low);
    else if (std::pow(1.0 - share, samples) < kExtremeMiss) ranks[2 * p] = 1;
    if (high < samples) ranks[2 * p + 1] = static_cast<std::uint64_t>(high);
    else if (std::pow(share, samples) < kExtremeMiss) ranks[2 * p + 1] = s;
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
  // The keys the pivots leave between them, expected from the sample's share between them (all of
  // a problem's keys when it has no sample): the same on every rank.
  for (std::size_t p = 0; p < count; ++p) {
    Problem& q = problems_[p];
    if (ranks[2 * p] != 0) q.low = order.kth_key(2 * p);
    if (ranks[2 * p + 1] != 0) q.high = order.kth_key(2 * p + 1);
    if (q.k == 0) continue;
    const auto s = static_cast<double>(sizes[p]);
    const double top = ranks[2 * p + 1] != 0 ? static_cast<double>(ranks[2 * p + 1]) : s + 1;
    const double share = s == 0 ? 1.0 : std::max(0.0, top - static_cast<double>(ranks[2 * p]) - 1) / s;
    q.expected_between = share * static_cast<double>(q.n) / ranks_count;
    q.sampled = s;
  }
  choose_binning();
}

void SampledSelection::choose_binning() {
  std::vector<double> between(problems_.size(), 0.0);
  double all_between = 0;
  for (std::size_t p = 0; p < problems_.size(); ++p) {
    between[p] = problems_[p].k == 0 ? 0.0 : problems_[p].expected_between;
    all_between += between[p];
  }
  if (all_between > static_cast<double>(max_candidates_)) bins_first(between);
}

std::vector<SampledSelection::Bracket> SampledSelection::brackets() const {
  std::vector<Bracket> out;
  out.reserve(problems_.size());
  for (const Problem& q : problems_) out.push_back({q.low, q.high, q.expected_between, q.sampled});
  return out;
}

void SampledSelection::take_brackets(std::span<const Bracket> brackets) {
  for (std::size_t p = 0; p < problems_.size(); ++p) {
    problems_[p].low = brackets[p].low;
    problems_[p].high = brackets[p].high;
    problems_[p].expected_between = brackets[p].between;
    problems_[p].sampled = brackets[p].sampled;
  }
  choose_binning();
}

// The candidates would not fit (a small budget, many problems): a first round that holds some
// problems' candidates and overflows on the rest would fail them all the same, so it holds none
// and gives the whole memory to histograms. The round after refine() finds each answer among one
// bin's keys, sum over p of between[p] / bins[p] in all; bins in proportion to sqrt(between[p])
// make that least for the memory (at least 16 and at most kMostBinsFirst per problem).
void SampledSelection::bins_first(std::span<const double> between) {
  binning_only_ = true;
  max_candidates_ = 0;
  histogram_bytes_ = histogram_bytes_left_ = bins_first_bytes_;
  std::vector<double> selecting(between.begin(), between.end());
  for (std::size_t p = 0; p < problems_.size(); ++p) selecting[p] = problems_[p].k != 0 ? std::max(selecting[p], 0.0) : -1.0;
  share_bins(selecting, bins_first_bytes_, 16);
}

// `least` bins each, the rest in proportion (none left: some problems go without, and fall back).
// between[p] < 0: no bins.
void SampledSelection::share_bins(std::span<const double> between, std::uint64_t bytes, std::uint64_t least) {
  const std::vector<std::size_t> bins = shared_bins(between, bytes, least);
  for (std::size_t p = 0; p < problems_.size(); ++p) problems_[p].bins = bins[p];
}

std::vector<std::size_t> SampledSelection::shared_bins(std::span<const double> between, std::uint64_t bytes,
                                                       std::uint64_t least) const {
  std::vector<std::size_t> bins(problems_.size(), 0);
  double weights = 0;
  std::uint64_t sharing = 0;
  for (std::size_t p = 0; p < problems_.size(); ++p)
    if (between[p] >= 0) weights += std::sqrt(between[p]), ++sharing;
  const std::uint64_t all = bytes / sizeof(std::int64_t);
  const double rest = static_cast<double>(all - std::min(all, least * sharing));
  for (std::size_t p = 0; p < problems_.size(); ++p) {
    if (between[p] < 0) continue;
    const double share = weights > 0 ? std::sqrt(between[p]) / weights : 0.0;
    const auto more = static_cast<std::uint64_t>(std::floor(rest * share));
    bins[p] = static_cast<std::size_t>(std::min<std::uint64_t>(least + more, kMostBinsFirst));
  }
  return bins;
}

// A round after refine() whose candidates outgrew all the memory: the memory becomes the bins
// refine() sized (the same on every rank), the held candidates go into them, and so does every
// key between the pivots from here on. finish_count then narrows to the bin that holds the answer.
void SampledSelection::bin_held_candidates() {
  refined_round_ = false;
  binned_after_refine_ = true;
  max_candidates_ = 0;
  histogram_bytes_ = histogram_bytes_left_ = memory_bytes_;
  for (Problem& q : problems_) {
    bool held = false;
    with_candidates(q, [&](auto keys, std::span<const std::uint32_t>) { held = !keys.empty(); });
    if (!held) continue;
    q.overflow = true;
    const std::uint64_t bytes = q.bins * sizeof(std::int64_t);
    if (q.bins == 0 || bytes > histogram_bytes_left_) {
      q.unbinned = true;  // its held keys are counted nowhere: it falls back
    } else {
      histogram_bytes_left_ -= bytes;
      q.overflow_bins.assign(q.bins, 0);
      q.bin_width = bin_width(q);
      with_candidates(q, [&](auto keys, std::span<const std::uint32_t> weights) {
        for (std::size_t j = 0; j < keys.size(); ++j)
          q.overflow_bins[(keys[j] - q.low - 1) / q.bin_width] += weights.empty() ? 1 : weights[j];
      });
    }
    std::vector<std::uint32_t>().swap(q.narrow.candidates);
    std::vector<std::uint64_t>().swap(q.wide.candidates);
    std::vector<std::uint32_t>().swap(q.narrow.weights);
    std::vector<std::uint32_t>().swap(q.wide.weights);
  }
  candidates_held_ = 0;
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
  if (candidates_held_ + slots(q) <= max_candidates_ || make_room()) {
    if (narrow()) {
      const auto k32 = static_cast<std::uint32_t>(key);
      hold(q.narrow, std::span<const std::uint32_t>(&k32, 1));
    } else {
      hold(q.wide, std::span<const std::uint64_t>(&key, 1));
    }
    return;
  }
  if (refined_round_) bin_held_candidates();
  q.overflow = true;
  if (q.overflow_bins.empty()) {
    const std::uint64_t bytes = q.bins * sizeof(std::int64_t);
    if (q.unbinned || q.bins == 0 || bytes > histogram_bytes_left_) {
      q.unbinned = true;
      return;
    }
    histogram_bytes_left_ -= bytes;
    q.overflow_bins.assign(q.bins, 0);
    q.bin_width = bin_width(q);
  }
  ++q.overflow_bins[(key - q.low - 1) / q.bin_width];
}

template <class Key>
void SampledSelection::add_candidates_of(std::size_t p, std::span<const Key> keys) {
  Problem& q = problems_[p];
  while (!keys.empty()) {
    const std::uint64_t room =
        candidates_held_ < max_candidates_ ? (max_candidates_ - candidates_held_) / slots(q) : 0;
    if (room == 0) {
      if (make_room()) continue;
      break;
    }
    const auto held = static_cast<std::size_t>(std::min<std::uint64_t>(room, keys.size()));
    if (narrow()) hold(q.narrow, keys.first(held));
    else hold(q.wide, keys.first(held));
    keys = keys.subspan(held);
  }
  for (const Key key : keys) add_candidate(p, key);  // no room: binned (or not)
}

template <class Key, class Given>
void SampledSelection::hold(Keys<Key>& c, std::span<const Given> keys) {
  c.candidates.insert(c.candidates.end(), keys.begin(), keys.end());
  if (!c.weights.empty()) c.weights.insert(c.weights.end(), keys.size(), 1);
  candidates_held_ += keys.size() * (c.weights.empty() ? 1 : 2);
}

std::uint64_t SampledSelection::slots(const Problem& q) const {
  return (narrow() ? q.narrow.weights.empty() : q.wide.weights.empty()) ? 1 : 2;
}

// The candidates are full: each problem's are sorted and each key kept once with its count, which
// frees most of them where keys crowd on few values (bf16 task vectors). Once a compaction leaves
// more than half the memory full, the round does not try again (the rest overflow, as before).
bool SampledSelection::make_room() {
  if (compaction_spent_ || max_candidates_ < 2) return false;
  candidates_held_ = 0;
  for (Problem& q : problems_) {
    if (narrow()) compact(q.narrow);
    else compact(q.wide);
  }
  if (candidates_held_ > max_candidates_ / 2) compaction_spent_ = true;
  return candidates_held_ + 2 <= max_candidates_;
}

template <class Key>
void SampledSelection::compact(Keys<Key>& c) {
  if (c.candidates.empty()) return;
  std::vector<std::pair<Key, std::uint32_t>> counted(c.candidates.size());
  for (std::size_t i = 0; i < counted.size(); ++i) counted[i] = {c.candidates[i], c.weights.empty() ? 1 : c.weights[i]};
  std::sort(counted.begin(), counted.end());
  c.candidates.clear();
  c.weights.clear();
  for (const auto& [key, weight] : counted) {
    if (!c.candidates.empty() && c.candidates.back() == key &&
        c.weights.back() <= std::numeric_limits<std::uint32_t>::max() - weight) {
      c.weights.back() += weight;
    } else {
      c.candidates.push_back(key);
      c.weights.push_back(weight);
    }
  }
  candidates_held_ += 2 * c.candidates.size();
}

template void SampledSelection::add_candidates_of<std::uint32_t>(std::size_t, std::span<const std::uint32_t>);
template void SampledSelection::add_candidates_of<std::uint64_t>(std::size_t, std::span<const std::uint64_t>);

// Bins of equal width from low + 1: the narrowest that spreads the keys strictly between the
// pivots over at most q.bins bins.
std::uint64_t SampledSelection::bin_width(const Problem& q) {
  const std::uint64_t width = q.high - q.low - 1;  // keys strictly between; >= 1 when any is
  return std::max<std::uint64_t>(1, width / q.bins + (width % q.bins != 0));
}

// Step 4's reduction: the histograms of the problems that overflowed on some rank (each rank bins
// the candidates it still holds and adds the bins of those it could not), summed a slice of
// problems at a time so that the reduction stays small; the bin that holds the sought rank gives
// the narrower pivots.
void SampledSelection::narrow_overflowed(Reductions& reductions, std::span<const std::uint64_t> rank_among_between) {
  std::vector<std::size_t> listed;
  for (std::size_t p = 0; p < problems_.size(); ++p)
    if (rank_among_between[p] != 0) listed.push_back(p);
  constexpr std::size_t kBinsPerCall = (std::size_t{4} << 20) / sizeof(std::int64_t);
  std::vector<std::int64_t> histograms;
  std::vector<std::size_t> offsets;
  for (std::size_t first = 0, last = 0; first < listed.size(); first = last) {
    offsets.clear();
    std::size_t bins = 0;  // problems [first, last) in this call, at least one
    for (; last < listed.size() && (last == first || bins + problems_[listed[last]].bins <= kBinsPerCall); ++last) {
      offsets.push_back(bins);
      bins += problems_[listed[last]].bins;
    }
    histograms.assign(bins, 0);
    for (std::size_t i = first; i < last; ++i) {
      Problem& q = problems_[listed[i]];
      const std::span<std::int64_t> mine(histograms.data() + offsets[i - first], q.bins);
      if (!q.overflow_bins.empty()) std::copy(q.overflow_bins.begin(), q.overflow_bins.end(), mine.begin());
      const std::uint64_t width = bin_width(q);
      with_candidates(q, [&](auto keys, std::span<const std::uint32_t> weights) {
        for (std::size_t j = 0; j < keys.size(); ++j) mine[(keys[j] - q.low - 1) / width] += weights.empty() ? 1 : weights[j];
      });
    }
    reductions.sum(histograms);
    for (std::size_t i = first; i < last; ++i) {
      Problem& q = problems_[listed[i]];
      const std::uint64_t width = bin_width(q);
      std::uint64_t seen = 0;
      for (std::size_t b = 0; b < q.bins; ++b) {
        const auto in_bin = static_cast<std::uint64_t>(histograms[offsets[i - first] + b]);
        if (seen + in_bin < rank_among_between[listed[i]]) {
          seen += in_bin;
          continue;
        }
        // The bin holds keys [low + 1 + b width, low + (b + 1) width]: strictly between these.
        const std::uint64_t first_key = q.low + 1 + b * width;
        q.refined_low = first_key - 1;
        q.refined_high = q.high - first_key > width ? first_key + width : q.high;
        q.refined_between = in_bin;
        break;
      }
    }
  }
}

// Per rank, the failed problems' keys in their bins (as if spread evenly) against the keys the
// next round holds; each round that overflows divides them by its fewest bins. Counted keys, not
// distinct ones: where keys crowd on few values (bf16), fewer rounds do.
int SampledSelection::rounds_to_answer() const {
  std::vector<double> between(problems_.size(), -1.0);
  double keys = 0;
  for (std::size_t p = 0; p < problems_.size(); ++p)
    if (problems_[p].k != 0 && problems_[p].failed) {
      if (problems_[p].refined_low == problems_[p].refined_high) return std::numeric_limits<int>::max();
      between[p] = static_cast<double>(problems_[p].refined_between);
      keys += between[p] / static_cast<double>(ranks_);
    }
  const double room = static_cast<double>(memory_bytes_ / key_bytes(key_bits_));
  const std::vector<std::size_t> bins = shared_bins(between, memory_bytes_, 2);
  std::size_t fewest = std::numeric_limits<std::size_t>::max();
  for (std::size_t p = 0; p < problems_.size(); ++p)
    if (between[p] >= 0) fewest = std::min(fewest, bins[p]);
  if (keys <= room) return 1;
  if (fewest < 2 || fewest == std::numeric_limits<std::size_t>::max()) return std::numeric_limits<int>::max();
  return 1 + static_cast<int>(std::ceil(std::log(keys / room) / std::log(static_cast<double>(fewest))));
}

bool SampledSelection::refine() {
  for (const Problem& q : problems_)
    if (q.k != 0 && q.failed && q.refined_low == q.refined_high) return false;
  // Should the next round overflow, its memory becomes bins: sized now, from the keys each bin
  // held over all ranks, so that every rank bins alike whichever of them overflows. Fewer than 2
  // bins would not narrow: none (that problem falls back).
  std::vector<double> between(problems_.size(), -1.0);
  for (std::size_t p = 0; p < problems_.size(); ++p)
    if (problems_[p].k != 0 && problems_[p].failed) between[p] = static_cast<double>(problems_[p].refined_between);
  share_bins(between, memory_bytes_, 2);
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
    q.refined_between = 0;
    if (q.bins < 2) q.bins = 0;
  }
  // All the memory for candidates; bins only if they outgrow it (bin_held_candidates).
  max_candidates_ = memory_bytes_ / key_bytes(key_bits_);
  histogram_bytes_ = histogram_bytes_left_ = 0;
  refined_round_ = true;
  return true;
}

void SampledSelection::finish_count(Reductions& reductions) {
  const std::size_t count = problems_.size();
  constexpr std::size_t kFields = 6;  // below, at_low, between, at_high, overflow, unbinned
  std::vector<std::int64_t> totals(kFields * count + 1);
  totals.back() = 1;  // summed: the number of ranks
  for (std::size_t p = 0; p < count; ++p) {
    const Problem& q = problems_[p];
    std::int64_t between = 0;  // held, and binned after an overflow
    with_candidates(q, [&](auto keys, std::span<const std::uint32_t> weights) {
      between = weights.empty() ? static_cast<std::int64_t>(keys.size())
                                : std::accumulate(weights.begin(), weights.end(), std::int64_t{0});
    });
    for (const std::int64_t in_bin : q.overflow_bins) between += in_bin;
    const std::int64_t fields[kFields] = {static_cast<std::int64_t>(q.below), static_cast<std::int64_t>(q.at_low),
                                          between,
                                          static_cast<std::int64_t>(q.at_high), q.overflow ? 1 : 0,
                                          q.unbinned ? 1 : 0};
    std::copy(fields, fields + kFields, totals.begin() + static_cast<std::ptrdiff_t>(kFields * p));
  }
  reductions.sum(totals);
  ranks_ = std::max<std::int64_t>(1, totals.back());

  std::vector<std::uint64_t> among(count, 0);  // rank sought among the candidates
  std::vector<std::uint64_t> among_binned(count, 0);  // the same, for overflowed problems
  bool any_binned = false;
  for (std::size_t p = 0; p < count; ++p) {
    Problem& q = problems_[p];
    if (q.k == 0) continue;
    const auto* t = totals.data() + kFields * p;
    const auto below = static_cast<std::uint64_t>(t[0]), at_low = static_cast<std::uint64_t>(t[1]),
               between = static_cast<std::uint64_t>(t[2]), at_high = static_cast<std::uint64_t>(t[3]);
    // The counts below and at the pivots are exact whatever overflowed; `between` is exact unless
    // some rank could neither hold nor bin a key (t[5]). An overflow matters only when the answer
    // lies strictly between the pivots.
    const bool overflowed = t[4] != 0, between_known = t[5] == 0;
    if (q.k <= below) {
      q.failed = true;  // the sample misled: the answer lies below the low pivot
    } else if (q.k <= below + at_low) {
      q.answer = q.low, q.answer_below = below, q.answer_equal = at_low;
    } else if (!between_known) {
      q.failed = true;
    } else if (q.k <= below + at_low + between) {
      if (overflowed) {  // every key counted (held or binned): step 4
        q.failed = true;
        among_binned[p] = q.k - below - at_low;
        any_binned = true;
      } else {
        among[p] = q.k - below - at_low;
        q.answer_below = below + at_low;
      }
    } else if (q.k <= below + at_low + between + at_high) {
      q.answer = q.high, q.answer_below = below + at_low + between, q.answer_equal = at_high;
    } else {
      q.failed = true;  // misled: above the high pivot
    }
  }
  if (any_binned) narrow_overflowed(reductions, among_binned);
  RadixSelection exact(among, key_bits_);
  while (!exact.done()) {
    for (std::size_t p = 0; p < count; ++p)
      with_candidates(problems_[p], [&](auto keys, std::span<const std::uint32_t> weights) {
        if (weights.empty()) exact.count(p, keys);
        else exact.count(p, keys, weights);
      });
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
    std::vector<std::uint32_t>().swap(q.narrow.weights);
    std::vector<std::uint32_t>().swap(q.wide.weights);
    std::vector<std::int64_t>().swap(q.overflow_bins);
  }
  candidates_held_ = 0;
  compaction_spent_ = false;
  histogram_bytes_left_ = histogram_bytes_;
  binning_only_ = false;
  refined_round_ = binned_after_refine_ = false;
}

}  // namespace mpimerge
