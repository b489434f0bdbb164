// SignTally: the signs counted before the thresholds are known add up to those counted after.
#include "mpimerge/methods/sign_tally.hpp"

#include <gtest/gtest.h>

namespace mpimerge {
namespace {

int sign_of_sum(std::span<const float> tau, std::uint64_t) {
  float s = 0;
  for (float x : tau) s += x;
  return s > 0 ? 1 : (s < 0 ? -1 : 0);
}

TEST(SignTally, SinglesResolveByTheirKeyAgainstTheThreshold) {
  SignTally tally(1 << 20);
  tally.add_decided(10, 4);
  // Problem 0: entries with keys 5 and 7; problem 1: key 3.
  tally.add_single(0, 5, +1, -1);
  tally.add_single(0, 5, +1, 0);
  tally.add_single(0, 7, -1, +1);
  tally.add_single(1, 3, -1, -1);
  const std::uint64_t thresholds[] = {6, 3};  // key 5 cut, key 7 kept; key 3 kept
  tally.resolve(thresholds, 2, [](std::uint32_t, std::span<const float>) { return 0; },
                [](std::uint32_t, std::span<const double>) { return 0; });
  // decided 10/4; key 5 cut: -1 and 0; key 7 kept: -1; key 3 kept: -1
  EXPECT_EQ(tally.positive(), 10);
  EXPECT_EQ(tally.negative(), 4 + 1 + 1 + 1);
  EXPECT_EQ(tally.undecided(), 4u);
  EXPECT_FALSE(tally.overflowed());
}

TEST(SignTally, ParametersWithSeveralUndecidedEntriesAreCountedWhole) {
  SignTally tally(1 << 20);
  const float a[] = {0.5f, -0.25f}, b[] = {-1.0f, 0.25f};
  tally.add_multiple(3, std::span<const float>(a));
  tally.add_multiple(4, std::span<const float>(b));
  const std::uint64_t thresholds[] = {0, 0};
  std::vector<std::uint32_t> seen;
  tally.resolve(thresholds, 2,
                [&](std::uint32_t tensor, std::span<const float> tau) {
                  seen.push_back(tensor);
                  return sign_of_sum(tau, tensor);
                },
                [](std::uint32_t, std::span<const double>) { return 0; });
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{3, 4}));
  EXPECT_EQ(tally.positive(), 1);
  EXPECT_EQ(tally.negative(), 1);
}

TEST(SignTally, RunsOutOfMemoryAndSaysSo) {
  SignTally tally(100);
  for (std::uint64_t key = 0; key < 10; ++key) tally.add_single(0, key, 1, -1);
  EXPECT_TRUE(tally.overflowed());
  EXPECT_EQ(tally.undecided(), 10u);
}

}  // namespace
}  // namespace mpimerge
