// TaskVectorAnalysis on one process (LocalReductions): a hand-made case with exact expected values,
// and random task vectors fed in blocks of several sizes against the serial oracle.
#include <gtest/gtest.h>

#include <random>

#include "mpimerge/analysis/stats_output.hpp"
#include "mpimerge/analysis/task_vector_stats.hpp"
#include "mpimerge/error.hpp"
#include "support/serial_analysis.hpp"

namespace mpimerge {
namespace {

// Whole float32 tensors: base[tensor], models[tensor][task].
struct Data {
  std::vector<std::vector<float>> base;
  std::vector<std::vector<std::vector<float>>> models;
  MergeShape shape;
};

TaskVectorStats run(const Data& data, const AnalysisOptions& options, std::size_t block) {
  TaskVectorAnalysis analysis(options);
  analysis.start(data.shape);
  LocalReductions reductions;
  while (analysis.needs_pass()) {
    for (std::size_t t = 0; t < data.base.size(); ++t)
      for (std::size_t first = 0; first < data.base[t].size(); first += block) {
        const std::size_t n = std::min(block, data.base[t].size() - first);
        std::vector<std::span<const float>> models;
        for (const auto& m : data.models[t]) models.emplace_back(m.data() + first, n);
        analysis.analyze(Block<float>{t, first, std::span<const float>(data.base[t].data() + first, n), models});
      }
    analysis.finish_pass(reductions);
  }
  return analysis.stats();
}

Data make(const std::vector<std::vector<std::vector<float>>>& tau) {  // [tensor][task], base 0
  Data d;
  d.shape.models = tau.empty() ? 0 : tau[0].size();
  d.shape.has_base = true;
  for (std::size_t t = 0; t < tau.size(); ++t) {
    d.base.emplace_back(tau[t][0].size(), 0.0f);
    d.models.push_back(tau[t]);
    d.shape.tensors.push_back({"t" + std::to_string(t), {tau[t][0].size()}, tau[t][0].size(), ComputeType::f32});
  }
  return d;
}

// |tau| = 1..10 for both tasks. Paper trim at density d keeps |tau| >= the k-th smallest with
// k = 10 - int(10 d): density 0.1 keeps {9, 10}, 0.2 keeps {8, 9, 10}, 0.5 keeps {5..10}.
TEST(Analysis, HandMadeCaseHasExactValues) {
  const Data data = make({{{1, -2, 3, -4, 5, -6, 7, -8, 9, -10}, {-1, 2, -3, 4, -5, 6, -7, 8, 9, 10}}});
  AnalysisOptions o;
  o.quantiles = {0.5, 0.9, 0.95};
  o.mass_tops = {0.1, 0.5};
  o.densities = {0.2, 1.0};
  for (std::size_t block : {1, 3, 10}) {
    const TaskVectorStats s = run(data, o, block);
    ASSERT_EQ(s.tasks.size(), 2u);
    EXPECT_EQ(s.parameters, 10u);
    EXPECT_GE(s.passes, 3);  // radix passes of up to 16 bits of the 31-bit keys, then one tally
    for (const TaskStats& t : s.tasks) {
      EXPECT_EQ(t.quantiles, (std::vector<double>{5, 9, 10}));
      EXPECT_EQ(t.max, 10);
      EXPECT_EQ(t.sum_of_squares, 385);
      EXPECT_EQ(t.mass_fraction, (std::vector<double>{181.0 / 385, 355.0 / 385}));
      EXPECT_EQ(t.mass_kept, (std::vector<double>{0.2, 0.6}));
      EXPECT_EQ(t.thresholds, (std::vector<double>{8, 0}));
      EXPECT_EQ(t.kept_fraction, (std::vector<double>{0.3, 1.0}));
    }
    // Density 0.2: both tasks keep entries 7, 8, 9; they disagree at 7 (-8, 8) and 9 (-10, 10).
    EXPECT_EQ(s.conflicts[0].kept_entries, 6u);
    EXPECT_EQ(s.conflicts[0].multi_kept, 3u);
    EXPECT_EQ(s.conflicts[0].conflicting, 2u);
    EXPECT_DOUBLE_EQ(s.conflicts[0].among_multi_kept(), 2.0 / 3);
    EXPECT_DOUBLE_EQ(s.conflicts[0].among_all(), 0.2);
    // Density 1: everything kept; the signs differ everywhere but at entry 8.
    EXPECT_EQ(s.conflicts[1].kept_entries, 20u);
    EXPECT_EQ(s.conflicts[1].multi_kept, 10u);
    EXPECT_EQ(s.conflicts[1].conflicting, 9u);
    EXPECT_EQ(s.per_tensor[0][1].conflicting, 9u);
  }
}

// Zeros in tau are never counted as kept signs, even where the trim keeps everything.
TEST(Analysis, ZeroEntriesHaveNoSign) {
  const Data data = make({{{0, 0, 1, 0}, {0, -1, 1, 0}, {0, 0, -2, 0}}});
  AnalysisOptions o;
  o.densities = {1.0};
  const TaskVectorStats s = run(data, o, 4);
  EXPECT_EQ(s.conflicts[0].kept_entries, 4u);
  EXPECT_EQ(s.conflicts[0].multi_kept, 1u);
  EXPECT_EQ(s.conflicts[0].conflicting, 1u);
  EXPECT_EQ(s.tasks[0].quantiles[0], 0);  // median |tau| of task 0
}

TEST(Analysis, RandomTaskVectorsMatchTheSerialOracleInAnyBlocks) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> step(-4, 4);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (bool continuous : {false, true}) {
    std::vector<std::vector<std::vector<float>>> tau;
    for (std::size_t size : {500, 1, 77, 1200}) {
      tau.emplace_back();
      for (std::size_t m = 0; m < 3; ++m) {
        tau.back().emplace_back(size);
        for (auto& x : tau.back().back()) x = continuous ? normal(rng) : step(rng) * 0.25f;
      }
    }
    Data data = make(tau);
    for (auto& b : data.base) for (auto& x : b) x = 0.5f;  // a base that is not zero: tau = model - base
    for (auto& t : data.models) for (auto& m : t) for (auto& x : m) x += 0.5f;
    testing::TaskVectors exact;
    for (std::size_t t = 0; t < data.base.size(); ++t) {
      exact.emplace_back();
      for (const auto& m : data.models[t]) {
        exact.back().emplace_back();
        for (std::size_t i = 0; i < m.size(); ++i) exact.back().back().push_back(static_cast<double>(m[i] - data.base[t][i]));
      }
    }
    const AnalysisOptions o;
    const TaskVectorStats want = testing::serial_analysis(exact, 3, o);
    for (std::size_t block : {7, 64, 5000}) {
      SCOPED_TRACE("block " + std::to_string(block) + (continuous ? " continuous" : " steps"));
      testing::expect_same_stats(run(data, o, block), want);
    }
  }
}

TEST(Analysis, OptionsAndRanks) {
  EXPECT_EQ(analysis::quantile_rank(10, 0.5), 5u);
  EXPECT_EQ(analysis::quantile_rank(10, 0.91), 10u);
  EXPECT_EQ(analysis::quantile_rank(10, 0.001), 1u);
  AnalysisOptions o;
  o.densities = {0.1, 1.5};
  EXPECT_THROW(analysis::check_options(o), UsageError);
  o.densities = {};
  EXPECT_THROW(analysis::check_options(o), UsageError);
}

TEST(Analysis, CsvHasOneValueARow) {
  const Data data = make({{{1, -2}, {2, 1}}});
  AnalysisOptions o;
  o.quantiles = {0.5};
  o.mass_tops = {0.5};
  o.densities = {0.5};
  const std::string csv = stats_to_csv(run(data, o, 2));
  EXPECT_NE(csv.find("statistic,task,tensor,level,value\n"), std::string::npos);
  EXPECT_NE(csv.find("quantile,0,,0.5,1\n"), std::string::npos);
  EXPECT_NE(csv.find("max,1,,,2\n"), std::string::npos);
  EXPECT_NE(csv.find("conflict_among_all,,*,0.5,0.5\n"), std::string::npos);
  EXPECT_NE(csv.find("conflicting,,t0,0.5,1\n"), std::string::npos);
}

}  // namespace
}  // namespace mpimerge
