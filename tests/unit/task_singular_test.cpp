// The task-singular methods (tsv_m, iso_c, iso_cts) on one process: their subspace splits with
// FusionBench's rounding, the exclude patterns, the linear algebra against Eigen's JacobiSVD, and
// each method against a literal port of FusionBench's code (TSVM_utils.py
// compute_and_sum_svd_mem_reduction, iso_utils.py iso_c and iso_cts) written with Eigen, zero
// padding and all. The CLI test tests/cli/svd_reference.py checks them again against numpy.
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <random>

#include "mpimerge/error.hpp"
#include "mpimerge/linalg/spectral.hpp"
#include "mpimerge/methods/options.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/methods/task_singular.hpp"
#include "support/method_driver.hpp"

namespace mpimerge {
namespace {

using Matrix = Eigen::MatrixXd;

Matrix random_matrix(std::size_t m, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix a(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(n));
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j) a(i, j) = normal(rng);
  return a;
}

std::vector<double> row_major(const Matrix& a) {
  std::vector<double> out(static_cast<std::size_t>(a.size()));
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j) out[static_cast<std::size_t>(i * a.cols() + j)] = a(i, j);
  return out;
}

Matrix from_columns(const linalg::ColumnMatrix& c) {
  return Eigen::Map<const Matrix>(c.data.data(), static_cast<Eigen::Index>(c.rows), static_cast<Eigen::Index>(c.cols));
}

double max_abs(const Matrix& a) { return a.size() == 0 ? 0.0 : a.cwiseAbs().maxCoeff(); }

// ---- FusionBench's code, ported literally (Eigen's thin SVD stands for torch.linalg.svd) ----

struct Svd {
  Matrix u, vh;
  Eigen::VectorXd s;
};
Svd svd(const Matrix& a) {
  Eigen::JacobiSVD<Matrix> j(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return {j.matrixU(), j.matrixV().transpose(), j.singularValues()};
}

Matrix fusionbench_tsv_m(const std::vector<Matrix>& taus) {
  const Eigen::Index m = taus[0].rows(), n = taus[0].cols(), r = std::min(m, n);
  const auto k = static_cast<Eigen::Index>(static_cast<double>(r) * (1.0 / static_cast<double>(taus.size())));
  Matrix sum_u = Matrix::Zero(m, r), sum_vh = Matrix::Zero(r, n);
  Eigen::VectorXd sum_s = Eigen::VectorXd::Zero(r);
  for (std::size_t i = 0; i < taus.size(); ++i) {
    const Svd d = svd(taus[i]);
    const auto at = static_cast<Eigen::Index>(i) * k;
    sum_u.middleCols(at, k) = d.u.leftCols(k);
    sum_s.segment(at, k) = d.s.head(k);
    sum_vh.middleRows(at, k) = d.vh.topRows(k);
  }
  const Svd pu = svd(sum_u), pv = svd(sum_vh);
  return pu.u * pu.vh * sum_s.asDiagonal() * pv.u * pv.vh;
}

Matrix fusionbench_iso_c(const std::vector<Matrix>& taus) {
  Matrix sum = Matrix::Zero(taus[0].rows(), taus[0].cols());
  for (const Matrix& t : taus) sum += t;
  const Svd d = svd(sum);
  return d.u * (Eigen::VectorXd::Constant(d.s.size(), d.s.mean())).asDiagonal() * d.vh;
}

Matrix fusionbench_iso_cts(const std::vector<Matrix>& taus, double fraction) {
  const Eigen::Index m = taus[0].rows(), n = taus[0].cols(), r = std::min(m, n);
  const auto tasks = static_cast<Eigen::Index>(taus.size());
  Eigen::Index common = static_cast<Eigen::Index>(static_cast<double>(r) * fraction);
  const Eigen::Index task_total =
      static_cast<Eigen::Index>(std::nearbyint(static_cast<double>(r - common) / static_cast<double>(tasks))) * tasks;
  common = r - task_total;
  Matrix combined = Matrix::Zero(m, n);
  for (const Matrix& t : taus) combined += t;
  const Svd c = svd(combined);
  const Matrix cu = c.u.leftCols(common);
  const auto d = static_cast<Eigen::Index>(static_cast<double>(r - common) / static_cast<double>(tasks));
  Matrix u = Matrix::Zero(m, r), vh = Matrix::Zero(r, n);
  Eigen::VectorXd s = Eigen::VectorXd::Zero(r);
  for (Eigen::Index i = 0; i < tasks; ++i) {
    const Matrix w = taus[static_cast<std::size_t>(i)] - cu * cu.transpose() * taus[static_cast<std::size_t>(i)];
    const Svd t = svd(w);
    u.middleCols(i * d, d) = t.u.leftCols(d);
    s.segment(i * d, d) = t.s.head(d);
    vh.middleRows(i * d, d) = t.vh.topRows(d);
  }
  u.middleCols(tasks * d, common) = cu;
  s.segment(tasks * d, common) = c.s.head(common);
  vh.middleRows(tasks * d, common) = c.vh.topRows(common);
  const Svd pu = svd(u), pv = svd(vh);
  return pu.u * pu.vh * Eigen::VectorXd::Constant(r, s.mean()).asDiagonal() * pv.u * pv.vh;
}

// TSV-M under the null convention (docs/methods.md): triplets with σ <= max(m, n) ε σ_max dropped,
// and the polar factors taken over the non-zero directions only.
Matrix polar_over_nonzero(const Matrix& c) {
  const Svd d = svd(c);
  Eigen::Index kept = 0;
  while (kept < d.s.size() && d.s(kept) > static_cast<double>(std::max(c.rows(), c.cols())) * 2.220446049250313e-16 * d.s(0))
    ++kept;
  return d.u.leftCols(kept) * d.vh.topRows(kept);
}

Matrix convention_tsv_m(const std::vector<Matrix>& taus) {
  const Eigen::Index m = taus[0].rows(), n = taus[0].cols(), r = std::min(m, n);
  const auto k = static_cast<Eigen::Index>(static_cast<double>(r) * (1.0 / static_cast<double>(taus.size())));
  std::vector<Eigen::VectorXd> us, vs;
  std::vector<double> s;
  for (const Matrix& tau : taus) {
    const Svd d = svd(tau);
    for (Eigen::Index j = 0; j < k; ++j)
      if (d.s(j) > static_cast<double>(std::max(m, n)) * 2.220446049250313e-16 * d.s(0)) {
        us.push_back(d.u.col(j));
        vs.push_back(d.vh.row(j).transpose());
        s.push_back(d.s(j));
      }
  }
  Matrix u(m, static_cast<Eigen::Index>(s.size())), v(n, static_cast<Eigen::Index>(s.size()));
  for (std::size_t j = 0; j < s.size(); ++j) {
    u.col(static_cast<Eigen::Index>(j)) = us[j];
    v.col(static_cast<Eigen::Index>(j)) = vs[j];
  }
  return polar_over_nonzero(u) * Eigen::Map<const Eigen::VectorXd>(s.data(), static_cast<Eigen::Index>(s.size())).asDiagonal() *
         polar_over_nonzero(v).transpose();
}

// ---- mpimerge's methods on one process (the engine's owner path) ----

// θ for every tensor of the shape from base + taus, through the method; returns θ - θ_base.
std::vector<Matrix> run_method(const std::string& method, const std::vector<std::pair<std::string, std::vector<Matrix>>>& tensors,
                               double lambda = 1.0, std::optional<double> fraction = {}, const std::string& exclude = "none") {
  MethodOptions options;
  options.method = method;
  options.set("lambda", lambda);
  options.set("exclude", exclude);
  if (fraction) options.set("common_space_fraction", *fraction);
  const std::size_t models = tensors[0].second.size();
  auto m = make_method(options, models);
  testing::DriverInput in;
  in.shape.models = models;
  in.shape.has_base = true;
  for (const auto& [name, taus] : tensors) {
    const auto rows = static_cast<std::uint64_t>(taus[0].rows()), cols = static_cast<std::uint64_t>(taus[0].cols());
    in.shape.tensors.push_back({name, {rows, cols}, rows * cols, ComputeType::f64});
    auto& t = in.f64.emplace_back();
    const Matrix base = random_matrix(rows, cols, 99);
    t.base = row_major(base);
    for (const Matrix& tau : taus) t.models.push_back(row_major(base + tau));
  }
  const testing::DriverOutput out = testing::run_serially(*m, in, 7);
  std::vector<Matrix> updates;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Eigen::Index rows = tensors[i].second[0].rows(), cols = tensors[i].second[0].cols();
    Matrix theta(rows, cols), base(rows, cols);
    for (Eigen::Index r = 0; r < rows; ++r)
      for (Eigen::Index c = 0; c < cols; ++c) {
        theta(r, c) = out.f64[i][static_cast<std::size_t>(r * cols + c)];
        base(r, c) = in.f64[i].base[static_cast<std::size_t>(r * cols + c)];
      }
    updates.push_back(theta - base);
  }
  return updates;
}

std::vector<Matrix> random_taus(std::size_t m, std::size_t n, std::size_t tasks, std::uint64_t seed) {
  std::vector<Matrix> taus;
  for (std::size_t t = 0; t < tasks; ++t) taus.push_back(random_matrix(m, n, seed + t) * 0.01);
  return taus;
}

// Within 1e-9 of the update's scale (float64 throughout; the engine's tests ask 1e-5).
void expect_close(const Matrix& got, const Matrix& want, const std::string& what) {
  ASSERT_EQ(got.rows(), want.rows()) << what;
  ASSERT_EQ(got.cols(), want.cols()) << what;
  const double scale = std::max(max_abs(want), 1e-300);
  EXPECT_LE(max_abs(got - want), 1e-9 * scale) << what << ": max error " << max_abs(got - want) << ", scale " << scale;
}

TEST(TaskSingularSplits, TsvKeepsFusionBenchsTruncatedFloatProduct) {
  EXPECT_EQ(tsv_kept_per_task(1664, 3), 554u);
  EXPECT_EQ(tsv_kept_per_task(6, 3), 2u);
  EXPECT_EQ(tsv_kept_per_task(3, 3), 1u);
  EXPECT_EQ(tsv_kept_per_task(1, 2), 0u);
  EXPECT_EQ(tsv_kept_per_task(49, 49), 0u);  // 49 * (1 / 49) = 0.9999999999999999 in Python
  EXPECT_EQ(tsv_kept_per_task(98, 49), 1u);  // and 1.9999999999999998
}

TEST(TaskSingularSplits, IsoCtsRoundsHalfToEvenAsPython) {
  using S = SubspaceSplit;
  EXPECT_EQ(iso_cts_subspace_split(1664, 3, 0.8), (S{1331, 111}));
  EXPECT_EQ(iso_cts_subspace_split(5, 3, 0.8), (S{5, 0}));    // round(1/3) = 0
  EXPECT_EQ(iso_cts_subspace_split(6, 2, 0.75), (S{4, 1}));   // int(4.5) = 4, round(1.0) = 1
  EXPECT_EQ(iso_cts_subspace_split(10, 4, 0.8), (S{10, 0}));  // round(0.5) = 0
  EXPECT_EQ(iso_cts_subspace_split(30, 4, 0.8), (S{22, 2}));  // round(1.5) = 2
  EXPECT_EQ(iso_cts_subspace_split(50, 4, 0.8), (S{42, 2}));  // round(2.5) = 2
  EXPECT_EQ(iso_cts_subspace_split(1, 2, 0.8), (S{1, 0}));
  EXPECT_EQ(iso_cts_subspace_split(1, 1, 0.8), (S{0, 1}));
  EXPECT_EQ(iso_cts_subspace_split(6, 3, 0.0), (S{0, 2}));
  EXPECT_FALSE(iso_cts_subspace_split(2, 3, 0.1));  // common = 2 - round(2/3) * 3 = -1
}

TEST(TaskSingularExclude, CommaSeparatedShellPatternsMatchWholeNames) {
  EXPECT_TRUE(exclude_patterns("none").empty());
  EXPECT_TRUE(exclude_patterns("").empty());
  EXPECT_EQ(exclude_patterns(" lm_head.weight , *embed*,,"), (std::vector<std::string>{"lm_head.weight", "*embed*"}));
  const auto p = exclude_patterns("lm_head.weight,*embed*,model.layers.1.*");
  EXPECT_TRUE(excluded(p, "lm_head.weight"));
  EXPECT_FALSE(excluded(p, "lm_head.weight.bias"));
  EXPECT_TRUE(excluded(p, "model.embed_tokens.weight"));
  EXPECT_TRUE(excluded(p, "model.layers.1.mlp.up_proj.weight"));
  EXPECT_FALSE(excluded(p, "model.layers.10.mlp.up_proj.weight"));
}

TEST(Spectral, LeadingTripletsMatchJacobiSvdTallAndWide) {
  for (auto [m, n] : {std::pair<std::size_t, std::size_t>{9, 6}, {5, 11}, {7, 7}, {1, 6}, {6, 1}}) {
    const Matrix a = random_matrix(m, n, m * 100 + n);
    const std::vector<double> data = row_major(a);
    const Svd ref = svd(a);
    for (std::size_t k = 1; k <= std::min(m, n); ++k) {
      linalg::SpectralStats stats;
      const auto t = linalg::leading_triplets({data, m, n}, k, "a", stats);
      ASSERT_EQ(t.size(), k);
      EXPECT_EQ(stats.gram, 1u);
      for (std::size_t j = 0; j < k; ++j) EXPECT_NEAR(t.s[j], ref.s(static_cast<Eigen::Index>(j)), 1e-12 * ref.s(0));
      const auto kk = static_cast<Eigen::Index>(k);
      const Matrix want = ref.u.leftCols(kk) * ref.s.head(kk).asDiagonal() * ref.vh.topRows(kk);
      const Matrix got = from_columns(t.u) * Eigen::Map<const Eigen::VectorXd>(t.s.data(), kk).asDiagonal() *
                         from_columns(t.v).transpose();
      expect_close(got, want, std::to_string(m) + "x" + std::to_string(n) + " k " + std::to_string(k));
    }
  }
}

TEST(Spectral, NumericallyZeroTripletsAreDroppedAndIllConditionedOnesComeFromDgesdd) {
  // Rank 2 in 8 × 6: asking for 4 gives the 2 defined triplets, through dgesdd.
  const Matrix low = random_matrix(8, 2, 1) * random_matrix(2, 6, 2);
  linalg::SpectralStats stats;
  const auto t = linalg::leading_triplets({row_major(low), 8, 6}, 4, "low", stats);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(stats.direct, 1u);
  expect_close(from_columns(t.u) * Eigen::Map<const Eigen::VectorXd>(t.s.data(), 2).asDiagonal() * from_columns(t.v).transpose(),
               low, "rank 2");
  // A zero matrix has no triplet.
  EXPECT_EQ(linalg::leading_triplets({std::vector<double>(12, 0.0), 3, 4}, 2, "zero", stats).size(), 0u);
  // Full rank, singular values down to 1e-7 of the largest: dgesdd, every triplet accurate.
  const Svd base = svd(random_matrix(6, 6, 3));
  Eigen::VectorXd s(6);
  s << 1, 0.5, 1e-2, 1e-4, 1e-6, 1e-7;
  const Matrix graded = base.u * s.asDiagonal() * base.vh;
  linalg::SpectralStats graded_stats;
  const auto g = linalg::leading_triplets({row_major(graded), 6, 6}, 6, "graded", graded_stats);
  EXPECT_EQ(graded_stats.direct, 1u);
  ASSERT_EQ(g.size(), 6u);
  for (std::size_t j = 0; j < 6; ++j) EXPECT_NEAR(g.s[j], s(static_cast<Eigen::Index>(j)), 1e-14);
}

TEST(Spectral, PolarFactorIsTheNearestOrthonormalColumns) {
  const Matrix c = random_matrix(10, 4, 7);
  const Svd ref = svd(c);
  linalg::ColumnMatrix cm(10, 4);
  std::copy(c.data(), c.data() + c.size(), cm.data.begin());
  linalg::SpectralStats stats;
  const linalg::PolarFactor p = linalg::polar_factor(cm, "c", stats);
  EXPECT_EQ(stats.gram, 1u);
  const Matrix got = from_columns(p.left) * from_columns(p.right);
  expect_close(got, ref.u * ref.vh, "polar");
  // A repeated column: the polar factor over the non-zero directions (dgesdd).
  Matrix twice(10, 3);
  twice << c.col(0), c.col(0), c.col(1);
  linalg::ColumnMatrix tm(10, 3);
  std::copy(twice.data(), twice.data() + twice.size(), tm.data.begin());
  const linalg::PolarFactor q = linalg::polar_factor(tm, "twice", stats);
  EXPECT_EQ(stats.direct, 1u);
  EXPECT_TRUE(q.right.data.empty());
  const Svd t = svd(twice);
  expect_close(from_columns(q.left), t.u.leftCols(2) * t.vh.topRows(2), "rank-deficient polar");
}

TEST(TaskSingularMethods, EqualFusionBenchsCodeOnFullRankMatrices) {
  for (auto [m, n] : {std::pair<std::size_t, std::size_t>{9, 7}, {5, 11}, {8, 8}, {1, 6}, {6, 1}, {3, 2}}) {
    const auto taus = random_taus(m, n, 3, m * 31 + n);
    const std::string what = std::to_string(m) + "x" + std::to_string(n);
    expect_close(run_method("tsv_m", {{"w", taus}})[0], fusionbench_tsv_m(taus), "tsv_m " + what);
    expect_close(run_method("iso_c", {{"w", taus}})[0], fusionbench_iso_c(taus), "iso_c " + what);
    for (double f : {0.8, 0.5, 1.0})
      expect_close(run_method("iso_cts", {{"w", taus}}, 1.0, f)[0], fusionbench_iso_cts(taus, f),
                   "iso_cts " + what + " fraction " + std::to_string(f));
  }
  const auto taus = random_taus(9, 7, 3, 11);  // fraction 0: no common subspace before rounding
  expect_close(run_method("iso_cts", {{"w", taus}}, 1.0, 0.0)[0], fusionbench_iso_cts(taus, 0.0), "iso_cts fraction 0");
  // Two tasks: a 1 × n matrix keeps int(1 * 0.5) = 0 components in tsv_m (a zero update).
  const auto two = random_taus(1, 5, 2, 5);
  EXPECT_EQ(max_abs(run_method("tsv_m", {{"w", two}})[0]), 0.0);
  expect_close(run_method("iso_cts", {{"w", two}})[0], fusionbench_iso_cts(two, 0.8), "iso_cts 1x5, 2 tasks");
}

TEST(TaskSingularMethods, LambdaScalesTheUpdateAndOtherTensorsGetTheMeanTaskVector) {
  const auto taus = random_taus(6, 4, 3, 40);
  const auto vector = random_taus(1, 4, 3, 50);  // stands for a 1-D tensor: see below
  expect_close(run_method("tsv_m", {{"w", taus}}, 0.3)[0], 0.3 * fusionbench_tsv_m(taus), "lambda 0.3");
  // An excluded matrix is averaged.
  const Matrix mean = (taus[0] + taus[1] + taus[2]) / 3.0;
  for (const char* method : {"tsv_m", "iso_c", "iso_cts"})
    expect_close(run_method(method, {{"model.embed_tokens.weight", taus}}, 2.0, {}, "*embed*")[0], 2.0 * mean,
                 std::string(method) + " excluded");
}

TEST(TaskSingularMethods, RankDeficientInputsFollowTheNullConvention) {
  // Identical tasks: U = [U_k U_k U_k] is rank-deficient and its polar factor over the non-zero
  // directions is U_k [I I I] / sqrt(3), so TSV-M gives τ's rank-k truncation (k = int(r / 3)).
  const Matrix tau = random_matrix(9, 6, 60) * 0.01;
  const Svd d = svd(tau);
  const Matrix truncated = d.u.leftCols(2) * d.s.head(2).asDiagonal() * d.vh.topRows(2);
  expect_close(run_method("tsv_m", {{"w", {tau, tau, tau}}})[0], truncated, "tsv_m, identical tasks");
  // A rank-2 sum in 7 × 5: Iso-C is mean(S) U_2 V_2ᵀ with the mean over all five singular values.
  const Matrix low = random_matrix(7, 2, 61) * random_matrix(2, 5, 62) * 0.01;
  const Svd l = svd(3 * low);
  const Matrix want = (l.s.head(2).sum() / 5.0) * l.u.leftCols(2) * l.vh.topRows(2);
  expect_close(run_method("iso_c", {{"w", {low, low, low}}})[0], want, "iso_c, rank 2");
  // A task vector of rank 1 among full-rank ones: TSV-M drops its undefined components.
  auto taus = random_taus(8, 6, 3, 63);
  taus[1] = random_matrix(8, 1, 64) * random_matrix(1, 6, 65) * 0.01;
  expect_close(run_method("tsv_m", {{"w", taus}})[0], convention_tsv_m(taus), "tsv_m, a rank-1 task");
  // Full rank, the convention is FusionBench's code.
  const auto full = random_taus(8, 6, 3, 66);
  expect_close(convention_tsv_m(full), fusionbench_tsv_m(full), "the convention on full-rank tasks");
  // Unchanged tensors (every τ zero) stay the base exactly.
  const Matrix zero = Matrix::Zero(4, 3);
  for (const char* method : {"tsv_m", "iso_c", "iso_cts"})
    EXPECT_EQ(max_abs(run_method(method, {{"w", {zero, zero, zero}}})[0]), 0.0) << method;
}

TEST(TaskSingularMethods, AFractionFusionBenchCannotSplitIsRefusedNamingTheTensor) {
  try {
    run_method("iso_cts", {{"model.layers.0.tiny", random_taus(2, 3, 3, 70)}}, 1.0, 0.1);
    FAIL() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.0.tiny'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mpimerge
