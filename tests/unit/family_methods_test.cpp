// The methods of issue #4 on one process (LocalReductions), fed in blocks of several sizes,
// against the serial formulas of tests/support/serial_methods.hpp; and their one-line errors.
#include <gtest/gtest.h>

#include <random>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "support/method_driver.hpp"
#include "support/serial_methods.hpp"

namespace mpimerge {
namespace {

using testing::DriverInput;
using testing::DriverOutput;

// Deltas from few values (ties at every cut, exact cancellations); a matrix for the row-wise methods.
DriverInput random_input(std::size_t models, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> step(-3, 3);
  DriverInput in;
  in.shape.models = models;
  in.shape.has_base = true;
  auto fill = [&](auto& t, std::size_t n) {
    t.base.resize(n);
    for (auto& x : t.base) x = step(rng) * 0.5f;
    t.models.assign(models, t.base);
    for (auto& m : t.models)
      for (auto& x : m) x += step(rng) * 0.125f;
  };
  const std::vector<std::vector<std::uint64_t>> shapes{{1000}, {37}, {12, 9}, {1}};
  for (const auto& shape : shapes) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    in.f32.emplace_back();
    fill(in.f32.back(), n);
    in.shape.tensors.push_back({"layers." + std::to_string(in.f32.size()) + ".w", shape, n, ComputeType::f32});
  }
  in.f64.emplace_back();
  fill(in.f64.back(), 301);
  in.shape.tensors.push_back({"f64", {301}, 301, ComputeType::f64});
  return in;
}

DriverOutput run(const MethodOptions& options, const DriverInput& in, std::size_t block) {
  auto method = make_method(options, in.shape.models);
  return testing::run_serially(*method, in, block);
}

struct FamilyCase {
  std::string method;
  testing::OracleSparsify sparsify;
  bool elect, normalize, rescale;
  double lambda;
  std::vector<double> weights, densities;
};

class FamilyAgainstSerial : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(FamilyAgainstSerial, BitIdenticalForEveryBlockSize) {
  const FamilyCase c = GetParam();
  const DriverInput in = random_input(3, 11);
  MethodOptions options;
  options.method = c.method;
  options.mergekit_rules = true;
  for (std::size_t m = 0; m < 3; ++m) {
    options.set_model(m, "weight", c.weights[m]);
    if (!c.densities.empty()) options.set_model(m, "density", c.densities[m]);
  }
  if (c.lambda != 1.0) options.set("lambda", c.lambda);
  if (c.sparsify == testing::OracleSparsify::dare) options.set("seed", 7.0);
  if (c.sparsify == testing::OracleSparsify::breadcrumbs) options.set("gamma", 0.1);
  testing::OracleTaskVectors<float> o32;
  o32.sparsify = c.sparsify;
  o32.elect = c.elect;
  o32.normalize = c.normalize;
  o32.rescale = c.rescale;
  o32.lambda = c.lambda;
  o32.seed = 7;
  o32.gamma = 0.1;
  o32.weights = c.weights;
  o32.densities = c.densities;
  testing::OracleTaskVectors<double> o64;
  o64.sparsify = c.sparsify;
  o64.elect = c.elect;
  o64.normalize = c.normalize;
  o64.rescale = c.rescale;
  o64.lambda = c.lambda;
  o64.seed = 7;
  o64.gamma = 0.1;
  o64.weights = c.weights;
  o64.densities = c.densities;
  for (std::size_t block : {1, 7, 64, 4096}) {
    const DriverOutput out = run(options, in, block);
    for (std::size_t t = 0; t < in.f32.size(); ++t)
      EXPECT_EQ(out.f32[t], o32.merge(in.shape.tensors[t].name, in.f32[t].base, in.f32[t].models))
          << c.method << " tensor " << t << " block " << block;
    EXPECT_EQ(out.f64[0], o64.merge("f64", in.f64[0].base, in.f64[0].models)) << c.method << " block " << block;
  }
}

using S = testing::OracleSparsify;
INSTANTIATE_TEST_SUITE_P(
    Methods, FamilyAgainstSerial,
    ::testing::Values(FamilyCase{"task_arithmetic", S::none, false, false, false, 0.7, {0.5, 1.0, 2.0}, {}},
                      FamilyCase{"ties", S::magnitude, true, true, false, 1.0, {1.0, 1.0, 1.0}, {0.3, 0.3, 0.3}},
                      FamilyCase{"ties", S::magnitude, true, true, false, 0.9, {0.5, 1.0, 0.25}, {0.2, 0.5, 0.7}},
                      FamilyCase{"magnitude_prune", S::magnitude, false, false, false, 1.0, {1.0, 0.5, 1.0}, {0.4, 0.4, 0.1}},
                      FamilyCase{"dare_linear", S::dare, false, false, true, 1.0, {1.0, 0.5, 1.0}, {0.4, 0.6, 0.9}},
                      FamilyCase{"dare_ties", S::dare, true, false, true, 1.0, {1.0, 1.0, 1.0}, {0.5, 0.5, 0.5}},
                      FamilyCase{"breadcrumbs", S::breadcrumbs, false, false, false, 1.0, {1.0, 1.0, 1.0}, {0.5, 0.6, 0.9}},
                      FamilyCase{"breadcrumbs_ties", S::breadcrumbs, true, false, false, 1.0, {1.0, 2.0, 1.0}, {0.5, 0.5, 0.5}}));

TEST(Linear, WeightedAverageNormalisedBitIdentical) {
  const DriverInput in = random_input(3, 12);
  MethodOptions options;
  options.method = "linear";
  options.mergekit_rules = true;
  const std::vector<double> w{0.5, 1.0, 2.5};
  for (std::size_t m = 0; m < 3; ++m) options.set_model(m, "weight", w[m]);
  const DriverOutput out = run(options, in, 5);
  for (std::size_t t = 0; t < in.f32.size(); ++t) EXPECT_EQ(out.f32[t], testing::oracle_linear(in.f32[t].models, w));
}

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance * (1 + std::fabs(want[i]))) << i;
}

TEST(Slerp, MatchesMergekitsFormula) {
  DriverInput in = random_input(1, 13);
  MethodOptions options;
  options.method = "slerp";
  options.set("t", 0.3);
  const DriverOutput out = run(options, in, 7);
  for (std::size_t t = 0; t < in.f32.size(); ++t)
    expect_near(out.f32[t], testing::oracle_slerp(0.3, in.f32[t].base, in.f32[t].models[0]), 1e-6);
}

TEST(ModelStock, MatchesMergekitsFormula) {
  const DriverInput in = random_input(3, 14);
  MethodOptions options;
  options.method = "model_stock";
  const DriverOutput out = run(options, in, 9);
  for (std::size_t t = 0; t < in.f32.size(); ++t)
    expect_near(out.f32[t], testing::oracle_model_stock(in.f32[t].base, in.f32[t].models), 1e-5);
}

TEST(Fisher, WeightsByTheFisherNormalisedByItsNorm) {
  DriverInput in = random_input(2, 15);
  in.shape.has_base = false;
  in.shape.aligned_inputs = 2;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> positive(0.0f, 2.0f);
  std::vector<double> squares(2, 0.0);
  for (std::size_t t = 0; t < in.shape.tensors.size(); ++t) in.shape.tensors[t].aligned_present = {true, true};
  auto fisher_for = [&](auto& tensor) {
    tensor.base.clear();
    tensor.aligned.assign(2, {});
    for (std::size_t m = 0; m < 2; ++m) {
      for (std::size_t i = 0; i < tensor.models[m].size(); ++i) tensor.aligned[m].push_back(positive(rng));
      for (auto f : tensor.aligned[m]) squares[m] += static_cast<double>(f) * f;
    }
  };
  for (auto& t : in.f32) fisher_for(t);
  for (auto& t : in.f64) fisher_for(t);
  MethodOptions options;
  options.method = "fisher";
  options.set_model(1, "weight", 2.0);
  const DriverOutput out = run(options, in, 13);
  const std::vector<double> norms{std::sqrt(squares[0]), std::sqrt(squares[1])};
  for (std::size_t t = 0; t < in.f32.size(); ++t)
    expect_near(out.f32[t], testing::oracle_fisher(in.f32[t].models, in.f32[t].aligned, {1.0, 2.0}, norms, 1e-6, true),
                1e-6);
}

// W* rows solve (sum G) w* = sum G w_t; a 2-model case checked by substitution.
TEST(RegMean, SolvesTheSummedGramSystemAndAveragesTheRest) {
  DriverInput in = random_input(2, 16);
  in.shape.has_base = false;
  in.shape.side_inputs = 2;
  const std::size_t matrix = 2;  // the [12, 9] tensor
  const std::size_t n = 9;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (std::size_t t = 0; t < in.shape.tensors.size(); ++t) in.shape.tensors[t].side_shapes.assign(2, std::nullopt);
  for (auto& t : in.f32) t.base.clear(), t.side.assign(2, {});
  for (auto& t : in.f64) t.base.clear(), t.side.assign(2, {});
  std::vector<std::vector<double>> grams(2, std::vector<double>(n * n, 0.0));
  for (std::size_t m = 0; m < 2; ++m) {
    std::vector<double> x(20 * n);
    for (auto& v : x) v = normal(rng);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t r = 0; r < 20; ++r) grams[m][i * n + j] += x[r * n + i] * x[r * n + j];
    in.shape.tensors[matrix].side_shapes[m] = std::vector<std::uint64_t>{n, n};
    in.f32[matrix].side[m] = SideMatrix{{n, n}, grams[m]};
  }
  MethodOptions options;
  options.method = "regmean";
  const DriverOutput out = run(options, in, 20);
  const auto& w = in.f32[matrix].models;
  for (std::size_t r = 0; r < 12; ++r)
    for (std::size_t i = 0; i < n; ++i) {
      double lhs = 0, rhs = 0;
      for (std::size_t k = 0; k < n; ++k) {
        lhs += (grams[0][i * n + k] + grams[1][i * n + k]) * out.f32[matrix][r * n + k];
        rhs += grams[0][i * n + k] * w[0][r * n + k] + grams[1][i * n + k] * w[1][r * n + k];
      }
      EXPECT_NEAR(lhs, rhs, 1e-3 * (1 + std::fabs(rhs))) << r << "," << i;
    }
  EXPECT_EQ(out.f32[0], testing::oracle_linear(in.f32[0].models, {1.0, 1.0}));  // no Gram: averaged

  for (auto& g : in.f32[matrix].side) std::fill(g.values.begin(), g.values.end(), 0.0);  // singular
  try {
    run(options, in, 20);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("layers.3.w"), std::string::npos) << e.what();
  }
}

TEST(Della, SameResultForEveryBlockSizeAndSeedSensitive) {
  const DriverInput in = random_input(3, 17);
  MethodOptions options;
  options.method = "della";
  options.mergekit_rules = true;
  for (std::size_t m = 0; m < 3; ++m) options.set_model(m, "weight", 1.0).set_model(m, "density", 0.5);
  options.set("epsilon", 0.2);
  const DriverOutput a = run(options, in, 1), b = run(options, in, 4096);
  EXPECT_EQ(a.f32, b.f32);
  EXPECT_EQ(a.f64, b.f64);
  options.set("seed", 3.0);
  EXPECT_NE(run(options, in, 64).f32, a.f32);
}

std::string error_of(const MethodOptions& options, const DriverInput& in) {
  try {
    run(options, in, 64);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(MethodErrors, AreOneClearLine) {
  const DriverInput in = random_input(3, 18);
  MethodOptions o;
  o.method = "frobnicate";
  EXPECT_NE(error_of(o, in).find("unknown method 'frobnicate'"), std::string::npos);

  o = {};
  o.method = "linear";
  o.mergekit_rules = true;
  o.set_model(0, "weight", 1.0);
  EXPECT_NE(error_of(o, in).find("'weight' is required for model 2"), std::string::npos) << error_of(o, in);

  o = {};
  o.method = "linear";
  o.set_model(0, "weight", 1.0).set_model(1, "weight", -2.0).set_model(2, "weight", 1.0);
  EXPECT_NE(error_of(o, in).find("linear: parameter 'weight' (model 2) must be a finite number >= 0, not '-2'"),
            std::string::npos)
      << error_of(o, in);

  o = {};
  o.method = "task_arithmetic";  // negative weights subtract a task vector; normalising by a sum of 0 cannot be done
  o.set_flag("normalize", true);
  o.set_model(0, "weight", 1.0).set_model(1, "weight", -2.0).set_model(2, "weight", 1.0);
  EXPECT_NE(error_of(o, in).find("sum to 0"), std::string::npos) << error_of(o, in);

  o = {};
  o.method = "dare_linear";
  o.set("density", 0.0);
  EXPECT_NE(error_of(o, in).find("dare_linear: parameter 'density' (global) must be a fraction in (0, 1] or a percentage in (1, 100], not '0'"), std::string::npos) << error_of(o, in);

  o = {};
  o.method = "slerp";
  o.set("t", 1.5);
  DriverInput one = random_input(1, 18);
  EXPECT_NE(error_of(o, one).find("slerp: parameter 't' (global) must be a number in [0, 1], not '1.5'"), std::string::npos) << error_of(o, one);

  o = {};
  o.method = "dare_ties";
  o.set("trim_scope", "model");
  EXPECT_NE(error_of(o, in).find("dare_ties takes no parameter 'trim_scope'"), std::string::npos) << error_of(o, in);
}

TEST(Parameters, FilterListsGradientsAndPerModelFallBackAsMergekit) {
  ParameterTable table;
  ParameterSetting density;
  density.conditions.push_back({std::string("mlp"), {ParameterScalar::of_number(0.3)}});
  density.conditions.push_back({std::nullopt, {ParameterScalar::of_number(0.7)}});
  table.set_global("density", density);
  table.set_model(1, "density", ParameterSetting::scalar(ParameterScalar::of_number(0.9)));
  table.set_global("t", ParameterSetting::gradient({0.0, 1.0, 0.0}));
  EXPECT_EQ(table.find("density", 0, "model.layers.0.mlp.up_proj.weight", 0)->number, 0.3);
  EXPECT_EQ(table.find("density", 0, "model.layers.0.self_attn.q_proj.weight", 0)->number, 0.7);
  EXPECT_EQ(table.find("density", 1, "model.layers.0.mlp.up_proj.weight", 0)->number, 0.9);
  EXPECT_DOUBLE_EQ(table.find("t", std::nullopt, "x", 0.25)->number, 0.5);
  EXPECT_DOUBLE_EQ(table.find("t", std::nullopt, "x", 0.5)->number, 1.0);
  const std::vector<std::string> names{"model.embed_tokens.weight", "model.layers.0.mlp", "model.layers.2.mlp"};
  EXPECT_EQ(gradient_positions(names), (std::vector<double>{0.0, 0.0, 1.0}));
}

TEST(Reductions, LocalExclusivePrefixSumIsZero) {
  LocalReductions local;
  std::vector<std::int64_t> v{3, 4};
  local.exclusive_prefix_sum(v);
  EXPECT_EQ(v, (std::vector<std::int64_t>{0, 0}));
}

}  // namespace
}  // namespace mpimerge
