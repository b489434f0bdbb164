// Parsing of the merge parameters.
#include "mpimerge/methods/options.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

TEST(Density, FractionsAndPercentagesAsThePapersCode) {
  EXPECT_EQ(parse_density(0.2), 0.2);
  EXPECT_EQ(parse_density(1.0), 1.0);
  EXPECT_EQ(parse_density(20), 0.2);
  EXPECT_EQ(parse_density(100), 1.0);
  EXPECT_EQ(parse_density(1.5), 0.015);
}

TEST(Density, OutOfRangeIsAUsageError) {
  for (double bad : {0.0, -0.1, 100.5, std::nan("")}) EXPECT_THROW(parse_density(bad), UsageError) << bad;
}

TEST(Options, ScopesAndMerges) {
  EXPECT_EQ(parse_trim_scope("tensor"), TrimScope::tensor);
  EXPECT_EQ(parse_disjoint_merge("max"), DisjointMerge::max);
  EXPECT_THROW(parse_trim_scope("layer"), UsageError);
  EXPECT_THROW(parse_disjoint_merge("median"), UsageError);
  EXPECT_EQ(to_string(TrimScope::model), "model");
  EXPECT_EQ(to_string(DisjointMerge::sum), "sum");
}

}  // namespace
}  // namespace mpimerge
