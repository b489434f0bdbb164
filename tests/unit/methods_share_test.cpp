// The methods' share of the memory budget (pipeline/targets.cpp): an eighth, or what they want up
// to a quarter, and never so much that the slices lose the room for the largest row.
#include <gtest/gtest.h>

#include "pipeline/targets.hpp"

namespace mpimerge {
namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

TEST(MethodsShare, AnEighthUnlessTheMethodsWantMore) {
  EXPECT_EQ(methods_share(512 * kMiB, 0, 4096), 64 * kMiB);
  EXPECT_EQ(methods_share(512 * kMiB, 10 * kMiB, 4096), 64 * kMiB);
}

TEST(MethodsShare, WhatTheyWantUpToAQuarter) {
  // Per-tensor TIES on 0.55B wants 2 KiB per problem (360 problems): 720 KiB, a quarter at 2M.
  EXPECT_EQ(methods_share(4 * kMiB, 720 * 1024, 16384), 720 * 1024u);
  EXPECT_EQ(methods_share(2 * kMiB, 720 * 1024, 16384), 512 * 1024u);
}

TEST(MethodsShare, TheSlicesKeepTheLargestRow) {
  EXPECT_EQ(methods_share(64 * 1024, 1 * kMiB, 60 * 1024), 8 * 1024u);  // an eighth, at least
  EXPECT_EQ(methods_share(64 * 1024, 1 * kMiB, 52 * 1024), 12 * 1024u);
}

}  // namespace
}  // namespace mpimerge
