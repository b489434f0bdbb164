// The methods on one process (LocalReductions) against the serial formulas in tests/support,
// fed in blocks of several sizes: the result must not depend on how the data is cut.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/methods/ties.hpp"
#include "support/serial_ties.hpp"

namespace mpimerge {
namespace {

using testing::OracleTensor;

struct RandomModel {
  std::vector<OracleTensor<float>> f32;
  std::vector<OracleTensor<double>> f64;
  MergeShape shape;
};

// Deltas from few values (ties at the thresholds, exact cancellations) or continuous ones.
RandomModel random_model(std::size_t models, std::uint64_t seed, bool continuous = false) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> step(-3, 3);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  RandomModel m;
  m.shape.models = models;
  m.shape.has_base = true;
  auto fill = [&](auto& tensor, std::size_t n) {
    tensor.base.resize(n);
    for (auto& x : tensor.base) x = step(rng) * 0.5f;
    tensor.models.assign(models, tensor.base);
    for (auto& model : tensor.models)
      for (auto& x : model) x += continuous ? normal(rng) : step(rng) * 0.125f;
  };
  for (std::size_t n : {1000, 37, 1, 513}) {
    m.f32.emplace_back();
    fill(m.f32.back(), n);
    m.shape.tensors.push_back({"f32." + std::to_string(n), {n}, n, ComputeType::f32});
  }
  m.f64.emplace_back();
  fill(m.f64.back(), 301);
  m.shape.tensors.push_back({"f64", {301}, 301, ComputeType::f64});
  return m;
}

// Drives a method over the model in blocks of block_size, tensor by tensor.
template <class T>
void for_blocks(const OracleTensor<T>& t, std::size_t index, std::size_t block_size, auto&& visit) {
  std::vector<std::span<const T>> models(t.models.size());
  for (std::size_t at = 0; at < t.base.size(); at += block_size) {
    const std::size_t n = std::min(block_size, t.base.size() - at);
    for (std::size_t m = 0; m < models.size(); ++m) models[m] = std::span<const T>(t.models[m]).subspan(at, n);
    Block<T> block;
    block.tensor = index;
    block.first_element = at;
    block.base = std::span<const T>(t.base).subspan(at, n);
    block.models = models;
    visit(block, at);
  }
}

// What a sample pass shows the method: everything, a misleading block (task vectors of 1000, far
// above every real one), or nothing. None of it may change the result.
enum class Sampling { everything, misleading, nothing };

void run_method(MergeMethod& method, const RandomModel& m, std::size_t block_size,
                std::vector<std::vector<float>>& out32, std::vector<std::vector<double>>& out64,
                Sampling sampling = Sampling::everything, std::uint64_t method_memory = 0) {
  MergeShape shape = m.shape;
  shape.method_memory = method_memory;
  method.start(shape);
  LocalReductions local;
  auto analyze = [&](const auto& block, std::size_t) { method.analyze(block); };
  while (method.needs_pass()) {
    if (method.pass_kind() == PassKind::sample && sampling != Sampling::everything) {
      if (sampling == Sampling::misleading) {
        testing::OracleTensor<float> fake;
        fake.base.assign(64, 0.0f);
        fake.models.assign(m.shape.models, std::vector<float>(64, 1000.0f));
        for_blocks(fake, 0, block_size, analyze);
      }
    } else {
      for (std::size_t t = 0; t < m.f32.size(); ++t) for_blocks(m.f32[t], t, block_size, analyze);
      for (std::size_t t = 0; t < m.f64.size(); ++t) for_blocks(m.f64[t], m.f32.size() + t, block_size, analyze);
    }
    method.finish_pass(local);
  }
  out32.clear();
  out64.clear();
  for (std::size_t t = 0; t < m.f32.size(); ++t) {
    out32.emplace_back(m.f32[t].base.size());
    for_blocks(m.f32[t], t, block_size, [&](const Block<float>& b, std::size_t at) {
      method.merge(b, std::span<float>(out32.back()).subspan(at, b.size()));
    });
  }
  for (std::size_t t = 0; t < m.f64.size(); ++t) {
    out64.emplace_back(m.f64[t].base.size());
    for_blocks(m.f64[t], m.f32.size() + t, block_size, [&](const Block<double>& b, std::size_t at) {
      method.merge(b, std::span<double>(out64.back()).subspan(at, b.size()));
    });
  }
}

struct TiesCase {
  double density;
  TrimScope scope;
  DisjointMerge merge;
  double lambda;
};

class TiesAgainstSerial : public ::testing::TestWithParam<TiesCase> {};

TEST_P(TiesAgainstSerial, BitIdenticalForEveryBlockSize) {
  const TiesCase c = GetParam();
  for (bool continuous : {false, true}) {
  SCOPED_TRACE(continuous ? "continuous deltas" : "deltas with ties");
  const RandomModel m = random_model(3, 11, continuous);
  testing::OracleTies oracle;
  oracle.density = c.density;
  oracle.lambda = c.lambda;
  oracle.scope = c.scope == TrimScope::model ? testing::OracleScope::model : testing::OracleScope::tensor;
  oracle.merge = c.merge == DisjointMerge::mean ? testing::OracleMerge::mean
                 : c.merge == DisjointMerge::sum ? testing::OracleMerge::sum
                                                 : testing::OracleMerge::max;
  std::vector<std::vector<float>> want32, got32;
  std::vector<std::vector<double>> want64, got64;
  oracle.run(m.f32, m.f64, want32, want64);

  MethodOptions options;
  options.set("density", c.density).set("lambda", c.lambda);
  options.set("trim_scope", c.scope == TrimScope::model ? "model" : "tensor");
  options.set("disjoint_merge", c.merge == DisjointMerge::mean ? "mean" : c.merge == DisjointMerge::sum ? "sum" : "max");
  for (std::size_t block_size : {1, 7, 64, 4096}) {
    auto method = make_method(options, 3);
    run_method(*method, m, block_size, got32, got64);
    EXPECT_EQ(got32, want32) << "block size " << block_size;
    EXPECT_EQ(got64, want64) << "block size " << block_size;
  }
  // Misleading or missing samples (the fallback to radix passes) and too little memory for the
  // candidates and undecided signs (more passes) give the same result.
  for (Sampling sampling : {Sampling::everything, Sampling::misleading, Sampling::nothing})
    for (std::uint64_t memory : {std::uint64_t{0}, std::uint64_t{256}}) {
      auto method = make_method(options, 3);
      run_method(*method, m, 64, got32, got64, sampling, memory);
      EXPECT_EQ(got32, want32) << "sampling " << static_cast<int>(sampling) << ", memory " << memory;
      EXPECT_EQ(got64, want64) << "sampling " << static_cast<int>(sampling) << ", memory " << memory;
    }
  }
}

// {selection fallback passes, sign count passes}, as the report gives them.
std::pair<int, int> ties_passes(const MergeMethod& method) {
  std::pair<int, int> found{-1, -1};
  for (const auto& f : method.findings()) {
    if (f.key == "selection fallback passes") found.first = static_cast<int>(f.value);
    if (f.key == "sign count passes") found.second = static_cast<int>(f.value);
  }
  return found;
}

// Tensor-scope TIES over m with the method's memory given, checked against the oracle; its passes.
std::pair<int, int> tensor_scope_ties_passes(const RandomModel& m, std::size_t block_size,
                                             std::uint64_t memory) {
  MethodOptions options;
  options.set("trim_scope", "tensor");
  testing::OracleTies oracle;
  oracle.scope = testing::OracleScope::tensor;
  std::vector<std::vector<float>> want32, got32;
  std::vector<std::vector<double>> want64, got64;
  oracle.run(m.f32, m.f64, want32, want64);
  auto method = make_method(options, 3);
  run_method(*method, m, block_size, got32, got64, Sampling::everything, memory);
  EXPECT_EQ(got32, want32);
  EXPECT_EQ(got64, want64);
  return ties_passes(*method);
}

TEST(TiesPasses, AGoodSampleNeedsOneCountingPassAndABadOneFallsBack) {
  const RandomModel m = random_model(3, 11, true);
  MethodOptions options;
  std::vector<std::vector<float>> out32;
  std::vector<std::vector<double>> out64;
  auto passes = [&](Sampling sampling, std::uint64_t memory) {
    auto method = make_method(options, 3);
    run_method(*method, m, 64, out32, out64, sampling, memory);
    return ties_passes(*method);
  };
  // The signs are tallied in the count that finds the thresholds: no pass of their own.
  EXPECT_EQ(passes(Sampling::everything, 0), std::make_pair(0, 0));
  // Radix over float64 keys (63 bits in 16-bit digits), then the signs in a pass.
  EXPECT_EQ(passes(Sampling::misleading, 0), std::make_pair(4, 1));
  // Too little memory for the candidates: the same.
  EXPECT_EQ(passes(Sampling::everything, 256), std::make_pair(4, 1));
  // Nothing to trim (density 1): the signs are the only analysis.
  options.set("density", 1.0);
  EXPECT_EQ(passes(Sampling::everything, 0), std::make_pair(0, 1));
}

// A resumed merge reports the passes of the run that analysed (its journal keeps them), and a
// journal written before the sign count passes were reported restores with none.
TEST(TiesPasses, TheSavedStateKeepsThePassCounts) {
  const RandomModel m = random_model(3, 11, true);
  std::vector<std::vector<float>> out32;
  std::vector<std::vector<double>> out64;
  auto analysed = make_method(MethodOptions{}, 3);
  run_method(*analysed, m, 64, out32, out64, Sampling::misleading, 0);
  const std::optional<std::string> state = analysed->saved_state();
  ASSERT_TRUE(state.has_value());
  auto resumed = make_method(MethodOptions{}, 3);
  resumed->start(m.shape);
  ASSERT_TRUE(resumed->restore_state(*state));
  EXPECT_EQ(ties_passes(*resumed), std::make_pair(4, 1));
  nlohmann::json older = nlohmann::json::parse(*state);
  older.erase("sign_count_passes");
  auto from_older = make_method(MethodOptions{}, 3);
  from_older->start(m.shape);
  ASSERT_TRUE(from_older->restore_state(older.dump()));
  EXPECT_EQ(ties_passes(*from_older), std::make_pair(4, 0));
}

// Tensor-scope TIES whose candidates outgrow the method's memory (but whose histograms fit): one
// more counting pass between narrower pivots (issue 15: 3 reads in all), not the radix fallback's
// passes and a pass for the signs; the same result.
TEST(TiesPasses, OverflowedCandidatesCostOneMoreCountingPass) {
  EXPECT_EQ(tensor_scope_ties_passes(random_model(3, 11, true), 64, 16384).first, 1);
}

// One tensor of n parameters with continuous task vectors (distinct keys: no crowding helps).
RandomModel one_tensor_model(std::size_t models, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  RandomModel m;
  m.shape.models = models;
  m.shape.has_base = true;
  m.f32.emplace_back();
  m.f32.back().base.resize(n);
  for (auto& x : m.f32.back().base) x = normal(rng) * 50.0f;
  m.f32.back().models.assign(models, m.f32.back().base);
  for (auto& model : m.f32.back().models)
    for (auto& x : model) x += normal(rng);
  m.shape.tensors.push_back({"f32", {n}, n, ComputeType::f32});
  return m;
}

// Tensor-scope TIES whose refined count outgrows the method's memory too (a budget of a few rows
// against a large tensor): that count bins, and one more counts between its bin's pivots, instead
// of radix selection from every key (2 passes) and a pass for the signs; the same result.
TEST(TiesPasses, ARefinedCountThatOverflowsNarrowsAgain) {
  // Two counts between narrower pivots, the second tallying the signs: before, one, then radix's
  // two passes and a pass for the signs (3, 1).
  EXPECT_EQ(tensor_scope_ties_passes(one_tensor_model(3, 200000, 5), 1024, 512),
            std::make_pair(2, 0));
}

// Tensor-scope TIES under a small budget: hundreds of per-tensor samples would outgrow the
// budget (seen: 497 MB peak under a 268 MB budget); the sample shrinks to fit the memory it is given.
TEST(TiesPasses, TheSampleFitsTheMemoryGivenToIt) {
  MergeShape shape;
  shape.models = 3;
  shape.has_base = true;
  shape.ranks = 2;
  for (int t = 0; t < 300; ++t) shape.tensors.push_back({std::to_string(t), {4096, 4096}, 4096u * 4096u});
  auto sampled_bytes = [&](const MergeMethod& method) {
    double bytes = 0;
    for (std::size_t t = 0; t < shape.tensors.size(); ++t)
      bytes += static_cast<double>(shape.tensors[t].elements) * method.sample_fraction(t) * 3 * 4 / shape.ranks;  // float32 keys: 4 bytes
    return bytes;
  };
  MethodOptions options;
  options.set("trim_scope", "tensor");
  auto unlimited = make_method(options, 3);
  unlimited->start(shape);
  shape.sample_memory = 16u << 20;
  auto limited = make_method(options, 3);
  limited->start(shape);
  EXPECT_GT(sampled_bytes(*unlimited), 4.0 * static_cast<double>(shape.sample_memory));  // it would not fit
  EXPECT_LE(sampled_bytes(*limited), static_cast<double>(shape.sample_memory) * (1 + 1e-9));
  EXPECT_GT(sampled_bytes(*limited), static_cast<double>(shape.sample_memory) * 0.99);  // thinned, not dropped
}

// The sample per problem is about keys^(2/3) (src/methods/ties.cpp, sample_target): 2^27 keys per
// task give a sample of 2^18 (keys / 64 had given 2^21).
TEST(TiesPasses, TheSampleIsAboutTheKeysToTheTwoThirds) {
  MergeShape shape;
  shape.models = 3;
  shape.has_base = true;
  shape.ranks = 2;
  shape.tensors.push_back({"w", {8192, 16384}, 8192u * 16384u});
  auto model = make_method(MethodOptions{}, 3);
  model->start(shape);
  EXPECT_NEAR(model->sample_fraction(0) * 8192.0 * 16384.0, 262144.0, 1.0);
  MethodOptions options;
  options.set("trim_scope", "tensor");
  auto tensor = make_method(options, 3);
  tensor->start(shape);
  EXPECT_NEAR(tensor->sample_fraction(0) * 8192.0 * 16384.0, 262144.0, 1.0);
}

// The report's sign conflicts (the paper's): of the entries the trim kept, the share whose sign is
// not the elected one, counted by the merge pass without a pass of its own (issue 15); here against
// the definition, entry by entry, over the serial formulas' trimmed task vectors.
TEST(TiesFindings, SignConflictsAreTheKeptEntriesAgainstTheElectedSign) {
  for (bool continuous : {false, true})
    for (const char* how : {"mean", "sum", "max"}) {
      SCOPED_TRACE(std::string(how) + (continuous ? ", continuous deltas" : ", deltas with ties"));
      const RandomModel m = random_model(3, 13, continuous);
      testing::OracleTies oracle;
      const auto thr = oracle.thresholds(m.f32, m.f64, 3);
      long long balance = 0, kept = 0, lost = 0;
      auto visit = [&](const auto& tensor, const std::vector<double>& thresholds, auto&& per_parameter) {
        const auto trimmed = testing::OracleTies::trimmed(tensor, thresholds);
        for (std::size_t i = 0; i < tensor.base.size(); ++i) per_parameter(trimmed, i);
      };
      auto elect = [&](const auto& trimmed, std::size_t i) { balance += testing::OracleTies::sign_of_sum(trimmed, i); };
      for (std::size_t t = 0; t < m.f32.size(); ++t) visit(m.f32[t], thr[t], elect);
      for (std::size_t t = 0; t < m.f64.size(); ++t) visit(m.f64[t], thr[m.f32.size() + t], elect);
      const int majority = balance > 0 ? 1 : (balance < 0 ? -1 : 0);
      auto count = [&](const auto& trimmed, std::size_t i) {
        int gamma = testing::OracleTies::sign_of_sum(trimmed, i);
        if (gamma == 0) gamma = majority;
        for (const auto& task : trimmed) {
          if (task[i] == 0) continue;
          ++kept;
          lost += !(gamma > 0 ? task[i] > 0 : task[i] < 0);
        }
      };
      for (std::size_t t = 0; t < m.f32.size(); ++t) visit(m.f32[t], thr[t], count);
      for (std::size_t t = 0; t < m.f64.size(); ++t) visit(m.f64[t], thr[m.f32.size() + t], count);
      ASSERT_GT(lost, 0);  // the case has conflicts to count

      MethodOptions options;
      options.set("disjoint_merge", how);
      auto method = make_method(options, 3);
      std::vector<std::vector<float>> out32;
      std::vector<std::vector<double>> out64;
      run_method(*method, m, 64, out32, out64);
      double share = -1;
      for (const auto& f : method->findings())
        if (f.key == "kept entries whose sign lost the election") share = f.value;
      EXPECT_DOUBLE_EQ(share, static_cast<double>(lost) / static_cast<double>(kept));
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, TiesAgainstSerial,
                         ::testing::Values(TiesCase{0.2, TrimScope::model, DisjointMerge::mean, 1.0},
                                           TiesCase{0.5, TrimScope::model, DisjointMerge::sum, 0.7},
                                           TiesCase{0.1, TrimScope::model, DisjointMerge::max, 1.0},
                                           TiesCase{0.2, TrimScope::tensor, DisjointMerge::mean, 1.0},
                                           TiesCase{0.9, TrimScope::tensor, DisjointMerge::max, 1.3},
                                           TiesCase{1.0, TrimScope::model, DisjointMerge::mean, 1.0}));

TEST(TaskArithmetic, IsBasePlusLambdaTimesTheSumOfTaskVectors) {
  const RandomModel m = random_model(3, 5);
  MethodOptions options;
  options.method = "task_arithmetic";
  options.set("lambda", 0.4);
  auto method = make_method(options, 3);
  std::vector<std::vector<float>> out32;
  std::vector<std::vector<double>> out64;
  run_method(*method, m, 64, out32, out64);
  for (std::size_t t = 0; t < m.f32.size(); ++t)
    for (std::size_t i = 0; i < m.f32[t].base.size(); ++i) {
      float sum = 0;
      for (const auto& model : m.f32[t].models) sum += model[i] - m.f32[t].base[i];
      ASSERT_EQ(out32[t][i], m.f32[t].base[i] + 0.4f * sum);
    }
}

TEST(Average, IsTheWeightedMeanOfTheModels) {
  const RandomModel m = random_model(3, 6);
  MethodOptions options;
  options.method = "average";
  options.set_model(0, "weight", 1.0).set_model(1, "weight", 2.0).set_model(2, "weight", 0.5);
  auto method = make_method(options, 3);
  std::vector<std::vector<float>> out32;
  std::vector<std::vector<double>> out64;
  run_method(*method, m, 64, out32, out64);
  for (std::size_t i = 0; i < m.f64[0].base.size(); ++i) {
    const auto& models = m.f64[0].models;
    const double want = (1.0 * models[0][i] + 2.0 * models[1][i] + 0.5 * models[2][i]) / 3.5;
    ASSERT_DOUBLE_EQ(out64[0][i], want);
  }
}

TEST(Average, RefusesWeightsThatDoNotFit) {
  const RandomModel m = random_model(3, 6);
  MethodOptions options;
  options.method = "average";
  options.set_model(0, "weight", 1.0).set_model(1, "weight", -1.0).set_model(2, "weight", 0.0);
  EXPECT_THROW(make_method(options, 3), UsageError);  // negative: refused by the declaration
  options.set_model(1, "weight", 0.0).set_model(0, "weight", 0.0);
  EXPECT_THROW(make_method(options, 3)->start(m.shape), UsageError);  // summing to 0: cannot be normalised
}

TEST(Registry, UnknownMethodNamesTheKnownOnes) {
  MethodOptions options;
  options.method = "soup";
  try {
    make_method(options, 3);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("ties, ties_mergekit, task_arithmetic, average"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mpimerge
