// TIES on the paper's own 3x10 example and on the reference code's edge cases.
#include "mpimerge/methods/ties.hpp"

#include <gtest/gtest.h>

#include "mpimerge/methods/registry.hpp"
#include "mpimerge/methods/ties_kernels.hpp"

namespace mpimerge {
namespace {

const std::vector<std::vector<float>> kPaperTaskVectors = {
    {.5f, -.1f, .9f, -.7f, .05f, .2f, -.3f, 0.f, .4f, -.6f},
    {-.4f, .8f, -.2f, .6f, -.05f, .1f, .7f, -.9f, 0.f, .3f},
    {.3f, -.5f, .6f, -.8f, .9f, -.2f, -.1f, .4f, -.7f, .05f},
};

// Runs the whole method on one process: one tensor of 10 elements, base 0, models = task vectors.
std::vector<float> merge_paper_example(const char* disjoint_merge, double density = 0.2) {
  MethodOptions options;
  options.set("density", density).set("disjoint_merge", disjoint_merge);
  const auto method = make_method(options, 3);
  MergeMethod& ties = *method;
  MergeShape shape;
  shape.tensors.push_back({"w", {10}, 10, ComputeType::f32});
  shape.models = 3;
  shape.has_base = true;
  ties.start(shape);

  const std::vector<float> base(10, 0.0f);
  std::vector<std::span<const float>> models(kPaperTaskVectors.begin(), kPaperTaskVectors.end());
  Block<float> block;
  block.base = base;
  block.models = models;
  LocalReductions local;
  while (ties.needs_pass()) {
    ties.analyze(block);
    ties.finish_pass(local);
  }
  std::vector<float> out(10);
  ties.merge(block, out);
  return out;
}

TEST(TiesPaperExample, MeanGivesThePapersResult) {
  const std::vector<float> expected = {0.f, .8f, .9f, (-.7f + -.8f) / 2, .9f, 0.f, .7f, -.9f, -.7f, -.6f};
  EXPECT_EQ(merge_paper_example("mean"), expected);
}

TEST(TiesPaperExample, SumAndMaxAtIndexThree) {
  EXPECT_FLOAT_EQ(merge_paper_example("sum")[3], -1.5f);
  EXPECT_FLOAT_EQ(merge_paper_example("max")[3], -.8f);
}

TEST(TiesPaperExample, DensityAsAPercentage) {
  EXPECT_EQ(merge_paper_example("mean", 20), merge_paper_example("mean"));
}

TEST(TiesKernels, KthRankFollowsTopkValuesMask) {
  EXPECT_EQ(ties::kth_smallest_rank(10, 0.2), 8u);  // keeps 3 of 10 distinct magnitudes
  EXPECT_EQ(ties::kth_smallest_rank(10, 1.0), 0u);  // keep everything
  EXPECT_EQ(ties::kth_smallest_rank(3, 0.5), 2u);
  EXPECT_EQ(ties::kth_smallest_rank(7, 0.1), 7u);   // int(0.7) = 0: only the maximum and its ties
}

TEST(TiesKernels, ZeroElectedSignSelectsNegativeEntriesAndMaxGivesZero) {
  std::vector<float> a = {0.5f, 0.0f}, b = {-0.5f, 0.0f};
  std::vector<std::span<float>> tasks = {a, b};
  std::vector<float> gamma(2), out(2), work(4);
  ties::elected_sign_before_fallback<float>(tasks, gamma);
  EXPECT_EQ(gamma, (std::vector<float>{0.f, 0.f}));
  ties::apply_zero_sign_fallback<float>(gamma, 0);
  ties::disjoint_merge<float>(tasks, gamma, DisjointMerge::mean, out, work);
  EXPECT_EQ(out[0], -0.5f);  // the reference picks Tensor < 0 where the sign is 0
  ties::disjoint_merge<float>(tasks, gamma, DisjointMerge::max, out, work);
  EXPECT_EQ(out[0], 0.0f);
  ties::apply_zero_sign_fallback<float>(gamma, 1);
  ties::disjoint_merge<float>(tasks, gamma, DisjointMerge::mean, out, work);
  EXPECT_EQ(out[0], 0.5f);
}

TEST(TiesKernels, TrimKeepsEveryTieAtTheThreshold) {
  const std::vector<float> model = {0.1f, -0.2f, 0.2f, 0.3f, -0.05f}, base(5, 0.0f);
  std::vector<float> tau(5);
  for (bool wide : {false, true}) {
    ties::trimmed_task_vector<float>(model, base, wide ? bits::magnitude_key(0.2) : bits::magnitude_key(0.2f), wide, tau);
    EXPECT_EQ(tau, (std::vector<float>{0.f, -0.2f, 0.2f, 0.3f, 0.f}));
  }
}

}  // namespace
}  // namespace mpimerge
