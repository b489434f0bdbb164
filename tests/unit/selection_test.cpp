// Radix selection on one process (LocalReductions) against std::sort.
#include "mpimerge/selection/radix.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "mpimerge/error.hpp"
#include "mpimerge/float_bits.hpp"

namespace mpimerge {
namespace {

struct Expected {
  std::uint64_t kth, below, equal;
};

Expected by_sorting(std::vector<std::uint64_t> keys, std::uint64_t k) {
  std::sort(keys.begin(), keys.end());
  const std::uint64_t kth = keys[k - 1];
  const auto lo = std::lower_bound(keys.begin(), keys.end(), kth);
  const auto hi = std::upper_bound(keys.begin(), keys.end(), kth);
  return {kth, static_cast<std::uint64_t>(lo - keys.begin()), static_cast<std::uint64_t>(hi - lo)};
}

// Feeds keys in uneven chunks, as blocks would arrive.
void select(RadixSelection& s, const std::vector<std::vector<std::uint64_t>>& keys) {
  LocalReductions local;
  while (!s.done()) {
    for (std::size_t p = 0; p < keys.size(); ++p)
      for (std::size_t at = 0; at < keys[p].size(); at += 97)
        s.count(p, std::span(keys[p]).subspan(at, std::min<std::size_t>(97, keys[p].size() - at)));
    s.finish_pass(local);
  }
}

std::vector<std::uint64_t> float_keys(std::size_t n, std::mt19937_64& rng, bool few_values) {
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::uniform_int_distribution<int> small(-4, 4);
  std::vector<std::uint64_t> keys(n);
  for (auto& k : keys) k = bits::magnitude_key(few_values ? small(rng) * 0.125f : normal(rng));
  return keys;
}

TEST(RadixSelection, MatchesSortingForEveryRankOnSmallInputs) {
  std::mt19937_64 rng(1);
  for (bool few_values : {false, true}) {
    const auto keys = float_keys(50, rng, few_values);
    for (std::uint64_t k = 1; k <= keys.size(); ++k) {
      RadixSelection s({k}, 31);
      select(s, {keys});
      const Expected e = by_sorting(keys, k);
      ASSERT_EQ(s.kth_key(0), e.kth) << k;
      ASSERT_EQ(s.count_below(0), e.below);
      ASSERT_EQ(s.count_equal(0), e.equal);
      ASSERT_EQ(s.total(0), keys.size());
    }
  }
}

TEST(RadixSelection, FloatKeysTakeTwoPasses) {
  std::mt19937_64 rng(2);
  const auto keys = float_keys(100000, rng, false);
  RadixSelection s({80000}, 31);
  select(s, {keys});
  EXPECT_EQ(s.passes(), 2);
  EXPECT_EQ(RadixSelection::most_passes(1, 31), 2);
  EXPECT_EQ(s.kth_key(0), by_sorting(keys, 80000).kth);
}

TEST(RadixSelection, DoubleKeysAndManyProblemsAtOnce) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::vector<std::uint64_t>> keys(300);
  std::vector<std::uint64_t> k;
  for (auto& problem : keys) {
    problem.resize(1 + rng() % 400);
    for (auto& key : problem) key = bits::magnitude_key(normal(rng));
    k.push_back(1 + rng() % problem.size());
  }
  RadixSelection s(k, 63, 1 << 16);  // a small bin budget forces narrow digits, more passes
  select(s, keys);
  EXPECT_GT(s.passes(), 4);
  EXPECT_LE(s.passes(), RadixSelection::most_passes(keys.size(), 63, 1 << 16));  // 8-bit digits: 8
  for (std::size_t p = 0; p < keys.size(); ++p) {
    const Expected e = by_sorting(keys[p], k[p]);
    ASSERT_EQ(s.kth_key(p), e.kth) << p;
    ASSERT_EQ(s.count_below(p), e.below) << p;
    ASSERT_EQ(s.count_equal(p), e.equal) << p;
  }
}

TEST(RadixSelection, ZeroRankMeansNoCutAndNoPass) {
  RadixSelection s({0, 0}, 31);
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.kth_key(0), 0u);
  EXPECT_EQ(s.count_below(1), 0u);
}

TEST(RadixSelection, AllKeysEqual) {
  const std::vector<std::uint64_t> keys(1000, bits::magnitude_key(0.5f));
  RadixSelection s({1, 1000}, 31);
  select(s, {keys, keys});
  EXPECT_EQ(s.kth_key(0), keys[0]);
  EXPECT_EQ(s.count_below(1), 0u);
  EXPECT_EQ(s.count_equal(1), 1000u);
}

TEST(RadixSelection, RankBeyondTheKeysIsAnError) {
  RadixSelection s({11}, 31);
  std::vector<std::uint64_t> keys(10, 1);
  s.count(0, keys);
  LocalReductions local;
  EXPECT_THROW(s.finish_pass(local), InputError);
}

}  // namespace
}  // namespace mpimerge
