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
  const std::vector<float> model_a = {0.5f, 0.0f}, model_b = {-0.5f, 0.0f}, base(2, 0.0f);
  std::vector<float> a(2), b(2), sums(2, 9.0f), out(2), work(4);
  for (int majority : {0, 1}) {
    ties::trimmed_task_vector<float>(model_a, base, 0, false, a, sums, true);
    ties::trimmed_task_vector<float>(model_b, base, 0, false, b, sums, false);
    EXPECT_EQ(sums, (std::vector<float>{0.f, 0.f}));
    ties::elected_signs<float>(sums, majority);
    EXPECT_EQ(sums, (std::vector<float>(2, static_cast<float>(majority))));
  }
  std::vector<std::span<float>> tasks = {a, b};
  std::vector<float> gamma(2, 0.0f);  // the zero sums with a zero majority
  ties::disjoint_merge<float>(tasks, gamma, DisjointMerge::mean, out, work);
  EXPECT_EQ(out[0], -0.5f);  // the reference picks Tensor < 0 where the sign is 0
  ties::disjoint_merge<float>(tasks, gamma, DisjointMerge::max, out, work);
  EXPECT_EQ(out[0], 0.0f);
  gamma.assign(2, 1.0f);  // a positive majority
  ties::disjoint_merge<float>(tasks, gamma, DisjointMerge::mean, out, work);
  EXPECT_EQ(out[0], 0.5f);
}

// The sums trimmed_task_vector adds are the ordered sums of the trimmed entries, in every loop
// (float with 32-bit keys, float with wide keys, double), and the elected signs their signs.
TEST(TiesKernels, TrimmedSumsAreTheOrderedSumsOfTheTrimmedEntries) {
  const std::vector<float> base = {0.f, 0.f, 1.f, 0.f, 0.f};
  const std::vector<std::vector<float>> models = {{0.3f, -0.1f, 1.5f, 1e-8f, -0.2f},
                                                  {-0.3f, 0.4f, 0.2f, 3e-8f, -0.25f},
                                                  {1e-8f, -0.4f, 1.25f, 0.5f, 0.2f}};
  for (bool wide : {false, true}) {
    const std::uint64_t threshold = wide ? bits::magnitude_key(0.2) : bits::magnitude_key(0.2f);
    std::vector<float> tau(5), sums(5, 7.0f), want(5, 0.0f);
    for (std::size_t t = 0; t < models.size(); ++t) {
      ties::trimmed_task_vector<float>(models[t], base, threshold, wide, tau, sums, t == 0);
      for (std::size_t i = 0; i < 5; ++i) want[i] += tau[i];
    }
    EXPECT_EQ(sums, want) << (wide ? "wide keys" : "narrow keys");
    ties::elected_signs<float>(sums, -1);
    for (std::size_t i = 0; i < 5; ++i)
      EXPECT_EQ(sums[i], want[i] > 0 ? 1.f : -1.f) << i;  // a zero sum takes the majority, -1
  }
  const std::vector<double> base64(2, 0.0), model64 = {0.5, -0.1};
  std::vector<double> tau64(2), sums64(2, 7.0);
  ties::trimmed_task_vector<double>(model64, base64, bits::magnitude_key(0.2), true, tau64, sums64, true);
  EXPECT_EQ(sums64, (std::vector<double>{0.5, 0.0}));
}

TEST(TiesKernels, TrimKeepsEveryTieAtTheThreshold) {
  const std::vector<float> model = {0.1f, -0.2f, 0.2f, 0.3f, -0.05f}, base(5, 0.0f);
  std::vector<float> tau(5), sums(5);
  for (bool wide : {false, true}) {
    ties::trimmed_task_vector<float>(model, base, wide ? bits::magnitude_key(0.2) : bits::magnitude_key(0.2f), wide, tau,
                                     sums, true);
    EXPECT_EQ(tau, (std::vector<float>{0.f, -0.2f, 0.2f, 0.3f, 0.f}));
  }
}

// The counting pass's sweep against its definition: entries below the low pivot are cut, those at
// or above the high one kept, the nonzero ones in between undecided (their parameter marked with
// the task + 1, or as several); the sums add, in task order, the kept entries with the undecided
// ones cut, and with them kept. The float loop with
// 32-bit keys and the loops of other widths (double) must agree with it and with each other.
template <class T, class Key>
void check_classify_against_definition() {
  // Keys of |x|: pivots at 0.2 and 0.5; entries below, at the low pivot, between, at the high
  // pivot, above, zero, and a -0.
  const std::vector<T> base = {0, 0, 0, 0, 0, 0, 0, 0, 1};
  const std::vector<std::vector<T>> models = {
      {T(0.1), T(-0.2), T(0.3), T(0.5), T(-0.9), T(0), T(-0.0), T(0.3), T(1)},
      {T(-0.3), T(0.2), T(0.4), T(-0.1), T(0.5), T(0.6), T(0.25), T(-0.2), T(1.6)},
  };
  const std::uint64_t low = ties::key_of<T>(T(0.2), false), high = ties::key_of<T>(T(0.5), false);
  const std::size_t n = base.size();
  std::vector<T> tau(n), sums(n, T(7)), if_kept(n, T(7));  // stale contents: the first task must not read them
  std::vector<std::uint32_t> marks(n, 99);
  std::vector<Key> keys(n);
  ties::PivotCounts counts;
  for (std::uint32_t t = 0; t < models.size(); ++t) {
    ties::classify_task_vector<T, Key>(models[t], base, low, high, false, t, t == 0, tau, sums, if_kept, marks, keys,
                                       counts);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(tau[i], models[t][i] - base[i]) << "task " << t << " entry " << i;
  }
  std::vector<T> want_sums(n, T(0)), want_if_kept(n, T(0));
  std::vector<std::uint32_t> want_marks(n, ties::kNoneUndecided);
  ties::PivotCounts want;
  for (std::uint32_t t = 0; t < models.size(); ++t)
    for (std::size_t i = 0; i < n; ++i) {
      const T x = models[t][i] - base[i];
      const std::uint64_t key = ties::key_of<T>(x, false);
      want_sums[i] += key >= high ? x : T(0);
      want_if_kept[i] += key >= low ? x : T(0);
      if (key >= low && key < high && x != T(0))
        want_marks[i] = want_marks[i] == ties::kNoneUndecided ? t + 1 : ties::kSeveralUndecided;
      want.below += key < low;
      want.at_low += key == low;
      want.at_high += key == high;
      want.between += key > low && key < high;
    }
  EXPECT_EQ(sums, want_sums);
  EXPECT_EQ(if_kept, want_if_kept);
  EXPECT_EQ(marks, want_marks);
  EXPECT_EQ(counts.below, want.below);
  EXPECT_EQ(counts.at_low, want.at_low);
  EXPECT_EQ(counts.at_high, want.at_high);
  EXPECT_EQ(counts.between, want.between);
  EXPECT_EQ(marks[2], ties::kSeveralUndecided);  // 0.3 and 0.4: both undecided
  EXPECT_EQ(marks[6], 2u);                       // -0.0 is decided (cut), 0.25 is not
  std::int64_t positive = 0, negative = 0;
  const std::uint64_t waiting = ties::sign_provisional_sums<T>(sums, marks, positive, negative);
  std::uint64_t want_waiting = 0;
  std::int64_t want_positive = 0, want_negative = 0;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(sums[i], want_sums[i] > T(0) ? T(1) : (want_sums[i] < T(0) ? T(-1) : T(0)));
    const bool decided = want_marks[i] == ties::kNoneUndecided;
    want_waiting += !decided;
    want_positive += decided && want_sums[i] > T(0);
    want_negative += decided && want_sums[i] < T(0);
  }
  EXPECT_EQ(waiting, want_waiting);
  EXPECT_EQ(positive, want_positive);
  EXPECT_EQ(negative, want_negative);
}

TEST(TiesKernels, ClassifyFollowsItsDefinitionInEveryLoop) {
  check_classify_against_definition<float, std::uint32_t>();
  check_classify_against_definition<double, std::uint64_t>();
}

// With both pivots at the threshold (a solved problem, counted again): nothing is between.
TEST(TiesKernels, ClassifyAtOnePivotCountsTiesOnceAndNothingBetween) {
  const std::vector<float> base(4, 0.0f), model = {0.1f, 0.2f, -0.2f, 0.3f};
  std::vector<float> tau(4), sums(4), if_kept(4);
  std::vector<std::uint32_t> marks(4);
  const std::uint64_t pivot = ties::key_of<float>(0.2f, false);
  ties::PivotCounts counts;
  ties::classify_task_vector<float, std::uint32_t>(model, base, pivot, pivot, false, 0, true, tau, sums, if_kept, marks,
                                                   {}, counts);
  EXPECT_EQ(counts.below, 1u);
  EXPECT_EQ(counts.at_low, 2u);
  EXPECT_EQ(counts.at_high, 0u);
  EXPECT_EQ(counts.between, 0u);
  EXPECT_EQ(sums, (std::vector<float>{0.f, 0.2f, -0.2f, 0.3f}));
  EXPECT_EQ(if_kept, sums);
  EXPECT_EQ(marks, (std::vector<std::uint32_t>(4, ties::kNoneUndecided)));
}

}  // namespace
}  // namespace mpimerge
