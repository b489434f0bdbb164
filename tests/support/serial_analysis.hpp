#pragma once
// The serial oracle of TaskVectorAnalysis: whole task vectors on one process, sorted, summed in
// long double, every parameter's signs counted directly.
#include <algorithm>
#include <cmath>
#include <vector>

#include "mpimerge/analysis/task_vector_stats.hpp"
#include "mpimerge/methods/ties_kernels.hpp"

namespace mpimerge::testing {

// tau[tensor][task][i]: the task vectors, already in the compute type's values.
using TaskVectors = std::vector<std::vector<std::vector<double>>>;

inline TaskVectorStats serial_analysis(const TaskVectors& tau, std::size_t tasks, const AnalysisOptions& o) {
  TaskVectorStats s;
  s.options = o;
  for (const auto& t : tau) s.parameters += t.empty() ? 0 : t[0].size();
  const std::uint64_t n = s.parameters;
  std::vector<double> thresholds_all;  // [task][density]
  for (std::size_t m = 0; m < tasks; ++m) {
    std::vector<double> a;
    for (const auto& t : tau)
      for (double x : t[m]) a.push_back(std::fabs(x));
    std::sort(a.begin(), a.end());
    auto kth = [&](std::uint64_t k) { return k == 0 ? 0.0 : a[k - 1]; };
    auto kept_share = [&](double threshold) {
      return static_cast<double>(a.end() - std::lower_bound(a.begin(), a.end(), threshold)) / static_cast<double>(n);
    };
    TaskStats ts;
    for (double q : o.quantiles) ts.quantiles.push_back(kth(analysis::quantile_rank(n, q)));
    ts.max = a.back();
    long double total = 0;
    for (double x : a) total += static_cast<long double>(x) * x;
    ts.sum_of_squares = static_cast<double>(total);
    for (double top : o.mass_tops) {
      const double threshold = kth(ties::kth_smallest_rank(n, top));
      long double kept = 0;
      for (double x : a) kept += x >= threshold ? static_cast<long double>(x) * x : 0.0L;
      ts.mass_fraction.push_back(total > 0 ? static_cast<double>(kept / total) : 0.0);
      ts.mass_kept.push_back(kept_share(threshold));
    }
    for (double d : o.densities) {
      ts.thresholds.push_back(kth(ties::kth_smallest_rank(n, d)));
      ts.kept_fraction.push_back(kept_share(ts.thresholds.back()));
    }
    s.tasks.push_back(ts);
  }
  s.conflicts.assign(o.densities.size(), SignConflicts{});
  for (const auto& t : tau) {
    const std::size_t size = t.empty() ? 0 : t[0].size();
    s.per_tensor.emplace_back(o.densities.size());
    for (std::size_t d = 0; d < o.densities.size(); ++d) {
      SignConflicts& c = s.per_tensor.back()[d];
      c.parameters = size;
      for (std::size_t i = 0; i < size; ++i) {
        int positive = 0, negative = 0;
        for (std::size_t m = 0; m < tasks; ++m) {
          if (std::fabs(t[m][i]) < s.tasks[m].thresholds[d]) continue;
          positive += t[m][i] > 0;
          negative += t[m][i] < 0;
        }
        c.kept_entries += positive + negative;
        c.multi_kept += positive + negative >= 2;
        c.conflicting += positive > 0 && negative > 0;
      }
      s.conflicts[d].parameters += c.parameters;
      s.conflicts[d].kept_entries += c.kept_entries;
      s.conflicts[d].multi_kept += c.multi_kept;
      s.conflicts[d].conflicting += c.conflicting;
    }
  }
  return s;
}

// Everything equal but the sums of squares, which agree to the fixed point's precision.
inline void expect_same_stats(const TaskVectorStats& got, const TaskVectorStats& want) {
  ASSERT_EQ(got.parameters, want.parameters);
  ASSERT_EQ(got.tasks.size(), want.tasks.size());
  for (std::size_t m = 0; m < want.tasks.size(); ++m) {
    const TaskStats &g = got.tasks[m], &w = want.tasks[m];
    EXPECT_EQ(g.quantiles, w.quantiles) << "task " << m;
    EXPECT_EQ(g.max, w.max) << "task " << m;
    EXPECT_NEAR(g.sum_of_squares, w.sum_of_squares, 1e-12 * w.sum_of_squares) << "task " << m;
    ASSERT_EQ(g.mass_fraction.size(), w.mass_fraction.size());
    for (std::size_t j = 0; j < w.mass_fraction.size(); ++j)
      EXPECT_NEAR(g.mass_fraction[j], w.mass_fraction[j], 1e-12) << "task " << m << " top " << j;
    EXPECT_EQ(g.mass_kept, w.mass_kept) << "task " << m;
    EXPECT_EQ(g.thresholds, w.thresholds) << "task " << m;
    EXPECT_EQ(g.kept_fraction, w.kept_fraction) << "task " << m;
  }
  auto same = [](const SignConflicts& g, const SignConflicts& w) {
    return g.parameters == w.parameters && g.kept_entries == w.kept_entries && g.multi_kept == w.multi_kept &&
           g.conflicting == w.conflicting;
  };
  ASSERT_EQ(got.conflicts.size(), want.conflicts.size());
  for (std::size_t d = 0; d < want.conflicts.size(); ++d) EXPECT_TRUE(same(got.conflicts[d], want.conflicts[d])) << d;
  ASSERT_EQ(got.per_tensor.size(), want.per_tensor.size());
  for (std::size_t t = 0; t < want.per_tensor.size(); ++t)
    for (std::size_t d = 0; d < want.conflicts.size(); ++d)
      EXPECT_TRUE(same(got.per_tensor[t][d], want.per_tensor[t][d])) << "tensor " << t << " density " << d;
}

}  // namespace mpimerge::testing
