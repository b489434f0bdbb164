// The statistics of `mpimerge diff`, on one process: exact values, and slices combined as ranks
// combine them.
#include "mpimerge/diff_stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace mpimerge {
namespace {

TEST(DiffStats, IdenticalTensorsAreZeroApartWithCosineOne) {
  DiffAccumulator acc;
  const std::vector<double> a = {1, -2, 3};
  acc.add(a, a);
  const TensorDifference d = acc.finish();
  EXPECT_EQ(d.max_abs, 0);
  EXPECT_EQ(d.relative_l2, 0);
  EXPECT_DOUBLE_EQ(d.cosine, 1);
  EXPECT_EQ(d.elements, 3u);
  EXPECT_EQ(d.differing, 0u);
}

TEST(DiffStats, MeasuresMaxRelativeL2AndCosine) {
  DiffAccumulator acc;
  acc.add(std::vector<double>{3, 4, 0}, std::vector<double>{0, 4, 3});
  const TensorDifference d = acc.finish();
  EXPECT_EQ(d.max_abs, 3);
  EXPECT_DOUBLE_EQ(d.relative_l2, std::sqrt(18.0) / 5.0);  // ||(3, 0, -3)|| / ||(0, 4, 3)||
  EXPECT_DOUBLE_EQ(d.cosine, 16.0 / 25.0);
  EXPECT_EQ(d.differing, 2u);
}

TEST(DiffStats, SlicesCombineToTheWhole) {
  const std::vector<double> a = {1, 2, 3, 4, 5}, b = {1, 2.5, 3, 3, 5};
  DiffAccumulator whole, left, right;
  whole.add(a, b);
  left.add(std::span(a).first(2), std::span(b).first(2));
  right.add(std::span(a).subspan(2), std::span(b).subspan(2));
  left.combine(right);
  const auto w = whole.finish(), c = left.finish();
  EXPECT_EQ(c.max_abs, w.max_abs);
  EXPECT_EQ(c.max_abs, 1);
  EXPECT_DOUBLE_EQ(c.relative_l2, w.relative_l2);
  EXPECT_DOUBLE_EQ(c.cosine, w.cosine);
  EXPECT_EQ(c.differing, 2u);
  const auto rebuilt = DiffAccumulator::from_parts(left.sums(), left.counts(), left.max_abs()).finish();
  EXPECT_EQ(rebuilt.elements, 5u);
  EXPECT_DOUBLE_EQ(rebuilt.cosine, w.cosine);
}

TEST(DiffStats, ZeroVectorsAndSpecialValues) {
  DiffAccumulator zeros;
  zeros.add(std::vector<double>{0, 0}, std::vector<double>{0, 0});
  EXPECT_EQ(zeros.finish().cosine, 1);
  DiffAccumulator against_zero;
  against_zero.add(std::vector<double>{1, 0}, std::vector<double>{0, 0});
  EXPECT_EQ(against_zero.finish().cosine, 0);
  EXPECT_TRUE(std::isinf(against_zero.finish().relative_l2));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  DiffAccumulator same_nan, nan_vs_one, signed_zero;
  same_nan.add(std::vector<double>{nan}, std::vector<double>{nan});
  EXPECT_EQ(same_nan.finish().differing, 0u);
  nan_vs_one.add(std::vector<double>{nan}, std::vector<double>{1});
  EXPECT_TRUE(std::isinf(nan_vs_one.finish().max_abs));
  signed_zero.add(std::vector<double>{-0.0}, std::vector<double>{0.0});
  EXPECT_EQ(signed_zero.finish().max_abs, 0);
  EXPECT_EQ(signed_zero.finish().differing, 1u);  // bit for bit, they differ
}

TEST(DiffStats, NonFloatTensorsCompareBytes) {
  DiffAccumulator same, changed;
  const std::vector<std::uint8_t> a = {1, 0, 0, 0, 2, 0, 0, 0}, b = {1, 0, 0, 0, 2, 0, 1, 0};
  same.add_raw(a, a, 4);
  changed.add_raw(a, b, 4);
  EXPECT_EQ(same.finish().max_abs, 0);
  EXPECT_EQ(changed.finish().differing, 1u);
  EXPECT_EQ(changed.finish().elements, 2u);
  EXPECT_TRUE(std::isinf(changed.finish().max_abs));
}

}  // namespace
}  // namespace mpimerge
