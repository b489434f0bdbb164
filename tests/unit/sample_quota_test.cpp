// The sample pass's rows per unit: a row of every unit where that fits; otherwise a tensor's
// planned share of its rows, carried from unit to unit, at least one row per tensor, and never the
// whole tensor because its units are small.
#include "pipeline/sample_pass.hpp"

#include <gtest/gtest.h>

namespace mpimerge {
namespace {

// Rows a tensor of `units` units of `rows` rows each samples at `fraction`.
std::uint64_t sampled(std::uint64_t units, std::uint64_t rows, double fraction, bool every_unit = false) {
  SampleQuota quota(1, every_unit);
  std::uint64_t total = 0;
  for (std::uint64_t u = 0; u < units; ++u) {
    const std::uint64_t taken = quota.rows(0, rows, fraction);
    EXPECT_LE(taken, rows);
    total += taken;
  }
  return total;
}

TEST(SampleQuota, UnitsOfARowOrTwoSampleTheShareNotEveryUnit) {
  // Under --memory-budget 512K the 0.55B model's units held a row or two each: at least a row
  // per unit sampled most of the model (0.76 GB of keys per rank).
  EXPECT_EQ(sampled(10000, 2, 0.01), 200u);
  EXPECT_EQ(sampled(10000, 1, 0.001), 10u);
}

TEST(SampleQuota, WhereItFitsARowOfEveryUnit) {
  EXPECT_EQ(sampled(10000, 2, 0.01, true), 10000u);
  EXPECT_EQ(sampled(4, 1000, 0.25, true), 1000u);
  EXPECT_EQ(sampled(3, 10, 7.0, true), 30u);
  EXPECT_EQ(sampled(3, 10, 0.0, true), 0u);
}

TEST(SampleQuota, AtLeastOneRowPerTensor) {
  EXPECT_EQ(sampled(1, 1000, 1e-6), 1u);
  EXPECT_EQ(sampled(50, 3, 1e-9), 1u);
}

TEST(SampleQuota, LargeUnitsSampleTheirShareAndAtMostAllRows) {
  EXPECT_EQ(sampled(4, 1000, 0.25), 1000u);
  EXPECT_EQ(sampled(3, 10, 1.0), 30u);
  EXPECT_EQ(sampled(3, 10, 7.0), 30u);
  EXPECT_EQ(sampled(3, 10, 0.0), 0u);
}

TEST(SampleQuota, TensorsCarryTheirOwnShare) {
  SampleQuota quota(2, false);
  std::uint64_t first = 0, second = 0;
  for (int u = 0; u < 100; ++u) {
    first += quota.rows(0, 4, 0.5);
    second += quota.rows(1, 4, 0.01);
  }
  EXPECT_EQ(first, 200u);
  EXPECT_EQ(second, 4u);
}

TEST(SampleQuota, WindowsSpreadTheRowsOverTheRanksRows) {
  const SampleWindows s = sample_windows({100, 200}, 100, 10);
  ASSERT_EQ(s.windows.size(), kSampleWindows);
  EXPECT_EQ(s.most_rows_per_window, 5u);
  EXPECT_EQ(s.windows[0].begin, 100u);
  EXPECT_EQ(s.windows[1].begin, 150u);
  EXPECT_TRUE(sample_windows({0, 10}, 10, 0).windows.empty());
  EXPECT_EQ(sample_windows({0, 10}, 10, 25).windows.size(), 1u);  // all of them, at most
}

}  // namespace
}  // namespace mpimerge
