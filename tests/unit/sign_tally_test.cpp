// SignTally: the signs counted before the thresholds are known add up to those counted after.
#include "mpimerge/methods/sign_tally.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

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

TEST(SignTally, SinglesWhoseSignsAgreeTakeNoRoomInTheLog) {
  SignTally tally(1024 * 16);  // the log's first chunk: 1024 deltas of 16 bytes
  for (std::uint64_t key = 0; key < 100000; ++key) tally.add_single(key % 3, key, key % 2 ? 1 : -1, key % 2 ? 1 : -1);
  const std::uint64_t thresholds[] = {0, 0, 0};
  tally.resolve(thresholds, 3, [](std::uint32_t, std::span<const float>) { return 0; },
                [](std::uint32_t, std::span<const double>) { return 0; });
  EXPECT_FALSE(tally.overflowed());
  EXPECT_EQ(tally.positive(), 50000);
  EXPECT_EQ(tally.negative(), 50000);
  EXPECT_EQ(tally.undecided(), 100000u);
}

// Singles by the hundred thousand, against the signs counted one by one once the thresholds are
// known: over few distinct keys (as bf16 and f16 task vectors have; folded into the table) and
// over keys nearly all distinct (as f32 ones have; kept in the log).
void expect_singles_add_up(std::uint64_t distinct_keys, std::uint64_t memory) {
  constexpr std::size_t kProblems = 3, kSingles = 300000;
  std::mt19937_64 rng(distinct_keys);
  std::uniform_int_distribution<int> sign(-1, 1);
  std::uniform_int_distribution<std::uint64_t> key_of(0, distinct_keys - 1);
  const std::uint64_t thresholds[kProblems] = {distinct_keys / 2, distinct_keys / 3, distinct_keys};
  SignTally tally(memory);
  std::int64_t positive = 0, negative = 0;
  for (std::size_t i = 0; i < kSingles; ++i) {
    const std::size_t problem = i % kProblems;
    const std::uint64_t key = key_of(rng);
    const int if_kept = sign(rng), if_cut = sign(rng);
    tally.add_single(problem, key, if_kept, if_cut);
    const int counted = key >= thresholds[problem] ? if_kept : if_cut;
    positive += counted > 0;
    negative += counted < 0;
  }
  tally.resolve(thresholds, kProblems, [](std::uint32_t, std::span<const float>) { return 0; },
                [](std::uint32_t, std::span<const double>) { return 0; });
  ASSERT_FALSE(tally.overflowed());
  EXPECT_EQ(tally.positive(), positive);
  EXPECT_EQ(tally.negative(), negative);
  EXPECT_EQ(tally.undecided(), kSingles);
}

TEST(SignTally, SinglesOverFewKeysAddUpInLittleMemory) {
  // The differing singles' log alone (about 200k deltas of 16 bytes) would not fit in 2 MiB.
  expect_singles_add_up(2000, std::uint64_t{2} << 20);
}

// A small budget (tensor-scope TIES streamed under --memory-budget 4M gives the tally 256 KiB):
// the log folds into the table before it outgrows its share, instead of overflowing (which costs
// a pass: cli.tensor_scope_reads caught a fourth read).
TEST(SignTally, SinglesOverFewKeysFitASmallBudget) { expect_singles_add_up(500, std::uint64_t{256} << 10); }

// A tiny one (tensor-scope TIES at --memory-budget 256K-2M: 16-180 KiB for a few hundred keys):
// the log's first chunk and the table's first size are a small share of the limit, and the table
// fills to three quarters before it overflows. Fixed 16 KiB and 32 KiB first sizes overflowed at
// once, and the signs cost a fourth read of the inputs.
TEST(SignTally, SinglesOverFewKeysFitATinyBudget) { expect_singles_add_up(100, std::uint64_t{16} << 10); }

TEST(SignTally, SinglesOverDistinctKeysAddUp) { expect_singles_add_up(std::uint64_t{1} << 40, std::uint64_t{64} << 20); }

}  // namespace
}  // namespace mpimerge
