// Sampled selection on one process against sorting: exact whenever it does not report failure,
// and failing (never wrong) when the sample misleads or the candidates do not fit.
#include "mpimerge/selection/sampled.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "mpimerge/float_bits.hpp"

namespace mpimerge {
namespace {

struct Sorted {
  std::uint64_t kth, below, equal;
};

Sorted by_sorting(std::vector<std::uint64_t> keys, std::uint64_t k) {
  std::sort(keys.begin(), keys.end());
  const std::uint64_t kth = keys[k - 1];
  const auto lo = std::lower_bound(keys.begin(), keys.end(), kth);
  return {kth, static_cast<std::uint64_t>(lo - keys.begin()),
          static_cast<std::uint64_t>(std::upper_bound(keys.begin(), keys.end(), kth) - lo)};
}

std::vector<std::uint64_t> keys_of(std::size_t n, std::uint64_t seed, double zero_share) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<std::uint64_t> keys(n);
  for (auto& k : keys) k = bits::magnitude_key(unit(rng) < zero_share ? 0.0f : normal(rng));
  return keys;
}

// Every `stride`-th key starting at `offset`: a sample.
std::vector<std::uint64_t> every(const std::vector<std::uint64_t>& keys, std::size_t stride, std::size_t offset = 0) {
  std::vector<std::uint64_t> sample;
  for (std::size_t i = offset; i < keys.size(); i += stride) sample.push_back(keys[i]);
  return sample;
}

// Runs both phases; the sample is every `stride`-th key starting at `offset`.
SampledSelection run(const std::vector<std::uint64_t>& keys, std::uint64_t k, std::size_t stride, std::size_t offset,
                     std::uint64_t max_candidates = 1 << 20) {
  SampledSelection s({k}, {keys.size()}, 31, max_candidates);
  const std::vector<std::uint64_t> sample = every(keys, stride, offset);
  LocalReductions local;
  s.add_sample(0, sample);
  s.finish_sample(local);
  s.count(0, keys);
  s.finish_count(local);
  return s;
}

TEST(SampledSelection, ExactWithARepresentativeSample) {
  for (double zeros : {0.0, 0.5, 0.9}) {
    const auto keys = keys_of(200000, 3, zeros);
    for (std::uint64_t k : {1ul, 1000ul, 100000ul, 160000ul, 199999ul, 200000ul}) {
      const SampledSelection s = run(keys, k, 64, 5);
      ASSERT_FALSE(s.failed(0)) << "zeros " << zeros << " k " << k;
      const Sorted want = by_sorting(keys, k);
      EXPECT_EQ(s.kth_key(0), want.kth) << "zeros " << zeros << " k " << k;
      EXPECT_EQ(s.count_below(0), want.below);
      EXPECT_EQ(s.count_equal(0), want.equal);
    }
  }
}

// 40 sampled keys: the margin of 5 sigmas + 16 reaches past the top; the high pivot is the
// sample's largest key, not infinity (bins up to infinity would span every key), and the answer
// is exact.
TEST(SampledSelection, AThinSampleBracketsAtItsExtremesNotOpenEnds) {
  const auto keys = keys_of(200000, 8, 0.0);
  SampledSelection s({160000}, {keys.size()}, 31, 1 << 20);
  const std::vector<std::uint64_t> sample = every(keys, 5000);
  LocalReductions local;
  s.add_sample(0, sample);
  s.finish_sample(local);
  EXPECT_GT(s.low_pivot(0), 0u);  // the margin reaches 3 keys short of this end
  EXPECT_EQ(s.high_pivot(0), *std::max_element(sample.begin(), sample.end()));
  s.count(0, keys);
  s.finish_count(local);
  ASSERT_FALSE(s.failed(0));
  EXPECT_EQ(s.kth_key(0), by_sorting(keys, 160000).kth);
  // k near an end, where every sampled key could lie on one side of it: that end stays open.
  const SampledSelection first = run(keys, 1, 5000, 0);
  ASSERT_FALSE(first.failed(0));
  EXPECT_EQ(first.kth_key(0), by_sorting(keys, 1).kth);
}

// A run of tensors takes the pivots the sample of all found for its problems (TiesMerge's
// analysis in runs), and with them finds the same exact answers with the memory to itself.
TEST(SampledSelection, ARunTakesTheBracketsOfTheSampleOfAll) {
  const std::vector<std::vector<std::uint64_t>> keys = {keys_of(50000, 9, 0.0), keys_of(80000, 10, 0.3),
                                                        keys_of(60000, 11, 0.0)};
  const std::vector<std::uint64_t> k = {40000, 70000, 30000};
  SampledSelection all(k, {50000, 80000, 60000}, 31, 1 << 16);
  LocalReductions local;
  for (std::size_t p = 0; p < 3; ++p) all.add_sample(p, every(keys[p], 50));
  all.finish_sample(local);
  const std::vector<SampledSelection::Bracket> brackets = all.brackets();
  SampledSelection run_of_two({k[1], k[2]}, {80000, 60000}, 31, 1 << 16);
  run_of_two.take_brackets(std::span<const SampledSelection::Bracket>(brackets).subspan(1, 2));
  for (std::size_t p = 0; p < 2; ++p) {
    EXPECT_EQ(run_of_two.low_pivot(p), all.low_pivot(p + 1));
    EXPECT_EQ(run_of_two.high_pivot(p), all.high_pivot(p + 1));
    run_of_two.count(p, keys[p + 1]);
  }
  run_of_two.finish_count(local);
  for (std::size_t p = 0; p < 2; ++p) {
    ASSERT_FALSE(run_of_two.failed(p));
    const Sorted want = by_sorting(keys[p + 1], k[p + 1]);
    EXPECT_EQ(run_of_two.kth_key(p), want.kth);
    EXPECT_EQ(run_of_two.count_below(p), want.below);
  }
}

TEST(SampledSelection, FewCandidatesAndNoneForASpikeOfEqualKeys) {
  const auto keys = keys_of(200000, 4, 0.0);
  SampledSelection s({160000}, {keys.size()}, 31, 1 << 20);
  LocalReductions local;
  s.add_sample(0, every(keys, 16));
  s.finish_sample(local);
  s.count(0, keys);
  EXPECT_LT(s.candidates_held(), keys.size() / 10);
  // 90% zeros and k among them: both pivots are 0, nothing is stored.
  const auto spike = keys_of(200000, 5, 0.9);
  SampledSelection z({100000}, {spike.size()}, 31, 1 << 20);
  z.add_sample(0, spike);
  z.finish_sample(local);
  z.count(0, spike);
  EXPECT_EQ(z.candidates_held(), 0u);
  z.finish_count(local);
  EXPECT_EQ(z.kth_key(0), 0u);
}

TEST(SampledSelection, AMisleadingSampleFailsInsteadOfAnsweringWrong) {
  auto keys = keys_of(100000, 6, 0.0);
  std::sort(keys.begin(), keys.end());  // the sample below then sees only the smallest keys
  SampledSelection s({90000}, {keys.size()}, 31, 1 << 20);
  LocalReductions local;
  s.add_sample(0, std::span(keys).first(1000));
  s.finish_sample(local);
  s.count(0, keys);
  s.finish_count(local);
  EXPECT_TRUE(s.failed(0));
}

TEST(SampledSelection, TooManyCandidatesFails) {
  const auto keys = keys_of(100000, 7, 0.0);
  EXPECT_TRUE(run(keys, 50000, 10000, 0, 10).failed(0));  // 10 sampled keys: a wide window
  EXPECT_FALSE(run(keys, 50000, 10000, 0, 1 << 20).failed(0));
}

// Candidates that outgrow the memory are histogrammed; the bin holding rank k gives narrower
// pivots, and one more counting pass (refine) answers exactly. Here the sample says so in advance
// (problem 1's window is most of its keys): the first count holds no candidate and gives all the
// memory to bins, and the second answers both problems.
TEST(SampledSelection, ExpectedOverflowBinsFirstAndNarrowsToOneMoreExactPass) {
  const auto keys = keys_of(200000, 9, 0.3);
  for (std::uint64_t k : {70000ul, 100000ul, 160000ul}) {
    SampledSelection s({k, k}, {keys.size(), keys.size()}, 31, 20000);  // 15000 candidates
    EXPECT_EQ(s.histogram_bins(1), SampledSelection::kMostHistogramBins);
    // A tight window for problem 0, a wide one for 1.
    const std::vector<std::uint64_t> dense = every(keys, 16, 3), sparse = every(keys, 2000, 3);
    LocalReductions local;
    s.add_sample(0, dense);
    s.add_sample(1, sparse);
    s.finish_sample(local);
    // All 20000 keys' worth of memory as bins, the wide window's problem with the most.
    EXPECT_GT(s.histogram_bins(1), s.histogram_bins(0));
    EXPECT_LE((s.histogram_bins(0) + s.histogram_bins(1)) * sizeof(std::int64_t), 20000 * 4u);
    s.count(0, keys);
    s.count(1, keys);
    EXPECT_EQ(s.candidates_held(), 0u);
    s.finish_count(local);
    const Sorted want = by_sorting(keys, k);
    for (std::size_t p : {0u, 1u}) {
      ASSERT_TRUE(s.failed(p)) << "k " << k << " problem " << p;
      ASSERT_TRUE(s.refinable(p)) << "k " << k << " problem " << p;
    }
    ASSERT_TRUE(s.refine());
    for (std::size_t p : {0u, 1u}) {
      EXPECT_LT(s.low_pivot(p), want.kth);
      EXPECT_GT(s.high_pivot(p), want.kth);
    }
    s.count(0, keys);
    s.count(1, keys);
    s.finish_count(local);
    for (std::size_t p : {0u, 1u}) {
      ASSERT_FALSE(s.failed(p)) << "k " << k << " problem " << p;
      EXPECT_EQ(s.kth_key(p), want.kth);
      EXPECT_EQ(s.count_below(p), want.below);
      EXPECT_EQ(s.count_equal(p), want.equal);
    }
  }
}

// A round that only bins may be given more memory than the candidates get (TIES gives it all of
// its memory: that round tallies no signs): more bins, narrower refined pivots; the refined
// round holds candidates in the selection's own memory only.
TEST(SampledSelection, ABinsOnlyRoundTakesTheMemoryGivenForIt) {
  const auto keys = keys_of(200000, 9, 0.3);
  const std::uint64_t k = 100000;
  SampledSelection own({k, k}, {keys.size(), keys.size()}, 31, 20000);
  SampledSelection more({k, k}, {keys.size(), keys.size()}, 31, 20000, 4 * 20000 * 4);
  const std::vector<std::uint64_t> sparse = every(keys, 2000, 3);
  LocalReductions local;
  for (SampledSelection* s : {&own, &more}) {
    EXPECT_FALSE(s->binning_only());
    s->add_sample(0, sparse);
    s->add_sample(1, sparse);
    s->finish_sample(local);
    EXPECT_TRUE(s->binning_only());
  }
  const std::size_t own_bins = own.histogram_bins(0) + own.histogram_bins(1);
  const std::size_t more_bins = more.histogram_bins(0) + more.histogram_bins(1);
  EXPECT_LE(own_bins * sizeof(std::int64_t), 20000 * 4u);
  EXPECT_GT(more_bins, 3 * own_bins);
  EXPECT_LE(more_bins * sizeof(std::int64_t), 4 * 20000 * 4u);
  const Sorted want = by_sorting(keys, k);
  for (SampledSelection* s : {&own, &more}) {
    s->count(0, keys);
    s->count(1, keys);
    s->finish_count(local);
    EXPECT_FALSE(s->binning_only());
    ASSERT_TRUE(s->refine());
  }
  EXPECT_LT(more.high_pivot(0) - more.low_pivot(0), own.high_pivot(0) - own.low_pivot(0));
  for (SampledSelection* s : {&own, &more}) {
    s->count(0, keys);
    s->count(1, keys);
    EXPECT_LE(s->candidates_held(), 20000u);
    s->finish_count(local);
    for (std::size_t p : {0u, 1u}) {
      ASSERT_FALSE(s->failed(p)) << "problem " << p;
      EXPECT_EQ(s->kth_key(p), want.kth);
      EXPECT_EQ(s->count_below(p), want.below);
    }
  }
}

// The sample did not see it coming (problem 1's keys crowd between its pivots far more than its
// sample did): problem 0 holds its candidates and is answered by the first count, problem 1
// overflows into the histograms' quarter of the memory, and one more count answers it; problem 0
// keeps its answer through that count, as both pivots.
TEST(SampledSelection, UnexpectedOverflowNarrowsToOneMoreExactPass) {
  constexpr std::uint64_t n = 100000, k = 50000;
  std::vector<std::uint64_t> sample, spread(n), crowded(n);
  for (std::uint64_t i = 0; i < n; i += 10) sample.push_back(i);
  for (std::uint64_t i = 0; i < n; ++i) spread[i] = i;
  SampledSelection s({k, k}, {n, n}, 31, 15000);  // 11250 candidates
  LocalReductions local;
  s.add_sample(0, sample);
  s.add_sample(1, sample);
  s.finish_sample(local);
  const std::uint64_t low = s.low_pivot(1), high = s.high_pivot(1);
  // About 5% of each problem's keys expected between its pivots: they fit, so not bins first (the
  // default bins: a quarter of 15000 keys of 4 bytes, as int64 counts, for 2 problems).
  EXPECT_EQ(s.histogram_bins(1), 15000u / 4 * 4 / 8 / 2);
  // 30% of problem 1's keys below its low pivot, 40% strictly between, 30% above.
  for (std::uint64_t i = 0; i < n; ++i)
    crowded[i] = i < 30000 ? 0 : i < 70000 ? low + 1 + (i * 7919) % (high - low - 1) : high + 1 + i;
  s.count(0, spread);
  s.count(1, crowded);
  s.finish_count(local);
  const Sorted want0 = by_sorting(spread, k), want1 = by_sorting(crowded, k);
  ASSERT_FALSE(s.failed(0));
  EXPECT_EQ(s.kth_key(0), want0.kth);
  ASSERT_TRUE(s.failed(1));
  ASSERT_TRUE(s.refinable(1));
  ASSERT_TRUE(s.refine());
  EXPECT_EQ(s.low_pivot(0), want0.kth);
  EXPECT_EQ(s.high_pivot(0), want0.kth);
  s.count(0, spread);
  s.count(1, crowded);
  s.finish_count(local);
  for (std::size_t p : {0u, 1u}) {
    const Sorted& want = p == 0 ? want0 : want1;
    ASSERT_FALSE(s.failed(p)) << "problem " << p;
    EXPECT_EQ(s.kth_key(p), want.kth);
    EXPECT_EQ(s.count_below(p), want.below);
    EXPECT_EQ(s.count_equal(p), want.equal);
  }
}

// A round after refine() whose candidates still outgrow the memory (a budget of a few rows against
// a tensor of millions of keys) bins them in that memory instead, and narrows once more: three
// counts in all, each exact in its counts, where the radix fallback would have started over.
TEST(SampledSelection, ARefinedRoundThatOverflowsBinsAndNarrowsAgain) {
  constexpr std::uint64_t n = 120000, k = 60000;
  std::vector<std::uint64_t> keys(n);
  for (std::uint64_t i = 0; i < n; ++i) keys[i] = (i * 7919) % n + 1;  // distinct, in no order
  SampledSelection s({k}, {n}, 31, 400);  // 1600 bytes: 400 candidates, or 200 bins
  LocalReductions local;
  s.add_sample(0, every(keys, 1000));
  s.finish_sample(local);
  ASSERT_TRUE(s.binning_only());  // the window holds far more than 400 keys
  s.count(0, keys);
  s.finish_count(local);
  ASSERT_TRUE(s.failed(0));
  ASSERT_TRUE(s.refinable(0));
  // The bin holds more keys than the next round can hold, fewer than it can bin twice over.
  EXPECT_EQ(s.rounds_to_answer(), 2);
  ASSERT_TRUE(s.refine());
  const Sorted want = by_sorting(keys, k);
  EXPECT_LT(s.low_pivot(0), want.kth);
  EXPECT_GT(s.high_pivot(0), want.kth);
  const std::uint64_t first_window = s.high_pivot(0) - s.low_pivot(0);
  EXPECT_FALSE(s.binned_after_refine());
  s.count(0, keys);
  EXPECT_TRUE(s.binned_after_refine());
  EXPECT_EQ(s.candidates_held(), 0u);
  s.finish_count(local);
  ASSERT_TRUE(s.failed(0));
  ASSERT_TRUE(s.refinable(0));
  EXPECT_EQ(s.rounds_to_answer(), 1);
  ASSERT_TRUE(s.refine());
  EXPECT_LT(s.low_pivot(0), want.kth);
  EXPECT_GT(s.high_pivot(0), want.kth);
  EXPECT_LT((s.high_pivot(0) - s.low_pivot(0)) * 100, first_window);  // 200 bins: far narrower
  s.count(0, keys);
  EXPECT_FALSE(s.binned_after_refine());
  s.finish_count(local);
  ASSERT_FALSE(s.failed(0));
  EXPECT_EQ(s.kth_key(0), want.kth);
  EXPECT_EQ(s.count_below(0), want.below);
  EXPECT_EQ(s.count_equal(0), want.equal);
}

// Without room for a histogram an overflowed problem cannot be narrowed, and refine changes nothing.
TEST(SampledSelection, NoRoomForAHistogramLeavesTheFallback) {
  const auto keys = keys_of(100000, 7, 0.0);
  SampledSelection s = run(keys, 50000, 10000, 0, 10);
  EXPECT_TRUE(s.failed(0));
  EXPECT_FALSE(s.refinable(0));
  EXPECT_EQ(s.rounds_to_answer(), std::numeric_limits<int>::max());
  EXPECT_FALSE(s.refine());
  EXPECT_TRUE(s.failed(0));
}

// Keys that crowd on a few values between the pivots (bf16 task vectors) fill the candidates'
// memory many times over, but held once with their counts they fit: the first count answers, with
// the exact counts below and at the answer.
TEST(SampledSelection, CrowdedCandidatesAreHeldOnceWithTheirCounts) {
  constexpr std::uint64_t n = 100000, k = 50000;
  std::vector<std::uint64_t> sample, crowded(n);
  for (std::uint64_t i = 0; i < n; i += 10) sample.push_back(i);
  SampledSelection s({k}, {n}, 31, 8000);  // 6000 candidates: about 5300 expected between the pivots
  LocalReductions local;
  s.add_sample(0, sample);
  s.finish_sample(local);
  const std::uint64_t low = s.low_pivot(0), high = s.high_pivot(0);
  ASSERT_GT(high - low, 40u);
  // 30% below the low pivot, 40% on 20 values strictly between, 30% above the high pivot.
  for (std::uint64_t i = 0; i < n; ++i)
    crowded[i] = i < 30000 ? 0 : i < 70000 ? low + 1 + (i % 20) * ((high - low - 1) / 20) : high + 1 + i;
  s.count(0, crowded);
  EXPECT_LE(s.candidates_held(), 6000u);  // 40000 keys between the pivots, held in the memory
  s.finish_count(local);
  ASSERT_FALSE(s.failed(0));
  const Sorted want = by_sorting(crowded, k);
  EXPECT_EQ(s.kth_key(0), want.kth);
  EXPECT_EQ(s.count_below(0), want.below);
  EXPECT_EQ(s.count_equal(0), want.equal);
}

TEST(SampledSelection, NoCutAndNoSample) {
  const auto keys = keys_of(1000, 8, 0.0);
  SampledSelection s({0, 500}, {keys.size(), keys.size()}, 31, 1 << 20);
  LocalReductions local;
  s.finish_sample(local);  // no sample at all: the window is everything
  s.count(0, keys);
  s.count(1, keys);
  s.finish_count(local);
  EXPECT_FALSE(s.needs_selection(0));
  EXPECT_FALSE(s.failed(1));
  EXPECT_EQ(s.kth_key(1), by_sorting(keys, 500).kth);
}

}  // namespace
}  // namespace mpimerge
