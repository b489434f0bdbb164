// The whole engine at this rank count: files in, files out, compared bit for bit with the serial
// formulas. Run at 1, 2, 3 and 4 ranks, this also pins that the output does not depend on the
// rank count.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "mpimerge/convert.hpp"
#include "pipeline/targets.hpp"
#include "mpimerge/commands/merge.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/ties.hpp"
#include "support/checkpoint_files.hpp"
#include "support/serial_ties.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::CheckpointSet;
using testing::world;

struct Inputs {
  testing::SharedTempDir dir{world()};
  CheckpointSet set;
  MergeJob job;

  explicit Inputs(const testing::SetOptions& options) : set(testing::random_checkpoint_set(options)) {
    testing::write_checkpoint(dir.file("base.h5"), set.tensors, set.base, world());
    job.base = dir.file("base.h5");
    for (std::size_t m = 0; m < set.models.size(); ++m) {
      job.models.push_back(dir.file("ft-" + std::to_string(m) + ".h5"));
      testing::write_checkpoint(job.models.back(), set.tensors, set.models[m], world());
    }
    job.output = dir.file("merged.h5");
    job.quiet = true;
  }

  MergeSummary run() {
    const Log silent(false, true, std::cout);
    return run_merge(job, world(), silent);
  }

  // The output as {name -> (info, bytes)}.
  std::map<std::string, std::pair<TensorInfo, testing::RawTensor>> output() const {
    testing::RawCheckpoint raw;
    const auto infos = testing::read_checkpoint(job.output, raw, world());
    std::map<std::string, std::pair<TensorInfo, testing::RawTensor>> out;
    for (std::size_t i = 0; i < infos.size(); ++i) out[infos[i].name] = {infos[i], raw[i]};
    return out;
  }
};

template <class T>
std::vector<T> decoded(const TensorInfo& t, const testing::RawTensor& raw) {
  std::vector<T> v(t.elements());
  decode<T>(t.dtype, raw, v);
  return v;
}

template <class T>
testing::OracleTensor<T> oracle_tensor(const CheckpointSet& set, std::size_t index) {
  testing::OracleTensor<T> t;
  t.base = decoded<T>(set.tensors[index], set.base[index]);
  for (const auto& m : set.models) t.models.push_back(decoded<T>(set.tensors[index], m[index]));
  return t;
}

// The expected output bytes of every tensor under TIES, from the serial oracle.
std::map<std::string, testing::RawTensor> expected_ties(const CheckpointSet& set, const testing::OracleTies& oracle,
                                                        std::optional<DType> out_dtype) {
  std::vector<testing::OracleTensor<float>> f32;
  std::vector<testing::OracleTensor<double>> f64;
  std::vector<std::size_t> f32_index, f64_index;
  std::map<std::string, testing::RawTensor> expected;
  for (std::size_t i = 0; i < set.tensors.size(); ++i) {
    const DType dtype = set.tensors[i].dtype;
    if (!is_float(dtype)) {
      expected[set.tensors[i].name] = set.base[i];
    } else if (dtype == DType::f64) {
      f64.push_back(oracle_tensor<double>(set, i));
      f64_index.push_back(i);
    } else {
      f32.push_back(oracle_tensor<float>(set, i));
      f32_index.push_back(i);
    }
  }
  std::vector<std::vector<float>> out32;
  std::vector<std::vector<double>> out64;
  oracle.run(f32, f64, out32, out64);
  auto store = [&](const auto& values, std::size_t i) {
    const DType dtype = out_dtype.value_or(set.tensors[i].dtype);
    testing::RawTensor raw(values.size() * dtype_size(dtype));
    encode<typename std::decay_t<decltype(values)>::value_type>(values, dtype, raw);
    expected[set.tensors[i].name] = raw;
  };
  for (std::size_t j = 0; j < out32.size(); ++j) store(out32[j], f32_index[j]);
  for (std::size_t j = 0; j < out64.size(); ++j) store(out64[j], f64_index[j]);
  return expected;
}

struct TiesCase {
  double density;
  TrimScope scope;
  DisjointMerge merge;
  double lambda;
  bool with_f64;
  double positive_bias;
  std::optional<DType> out_dtype;
};

class EngineTies : public ::testing::TestWithParam<TiesCase> {};

TEST_P(EngineTies, EqualsTheSerialFormulasBitForBit) {
  const TiesCase c = GetParam();
  testing::SetOptions options;
  options.with_f64 = c.with_f64;
  options.positive_bias = c.positive_bias;
  Inputs in(options);
  in.job.method.set("density", c.density).set("lambda", c.lambda);
  in.job.method.set("trim_scope", c.scope == TrimScope::model ? "model" : "tensor");
  in.job.method.set("disjoint_merge", c.merge == DisjointMerge::mean ? "mean" : c.merge == DisjointMerge::sum ? "sum" : "max");
  in.job.out_dtype = c.out_dtype;
  const MergeSummary summary = in.run();
  // A sample pass and one counting pass that also counts the signs; density 1 needs no selection,
  // only the sign count. These inputs are small enough that the sample is everything.
  EXPECT_EQ(summary.analysis_passes, c.density == 1.0 ? 1 : 2);
  EXPECT_EQ(summary.data_reads, 1);  // in memory: every input byte read once
  EXPECT_EQ(summary.analysis_runs, 1u);  // every tensor's selection at once

  testing::OracleTies oracle;
  oracle.density = c.density;
  oracle.lambda = c.lambda;
  oracle.scope = c.scope == TrimScope::model ? testing::OracleScope::model : testing::OracleScope::tensor;
  oracle.merge = c.merge == DisjointMerge::mean  ? testing::OracleMerge::mean
                 : c.merge == DisjointMerge::sum ? testing::OracleMerge::sum
                                                 : testing::OracleMerge::max;
  const auto expected = expected_ties(in.set, oracle, c.out_dtype);
  const auto output = in.output();
  ASSERT_EQ(output.size(), in.set.tensors.size());
  for (const TensorInfo& t : in.set.tensors) {
    const auto& [info, bytes] = output.at(t.name);
    EXPECT_EQ(info.shape, t.shape) << t.name;
    EXPECT_EQ(info.dtype, is_float(t.dtype) ? c.out_dtype.value_or(t.dtype) : t.dtype) << t.name;
    EXPECT_EQ(bytes, expected.at(t.name)) << t.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EngineTies,
    ::testing::Values(TiesCase{0.2, TrimScope::model, DisjointMerge::mean, 1.0, false, 0.55, {}},
                      TiesCase{0.2, TrimScope::model, DisjointMerge::mean, 1.0, true, 0.45, {}},
                      TiesCase{0.5, TrimScope::model, DisjointMerge::sum, 0.8, false, 0.5, {}},
                      TiesCase{0.3, TrimScope::model, DisjointMerge::max, 1.0, true, 0.6, {}},
                      TiesCase{0.2, TrimScope::tensor, DisjointMerge::mean, 1.0, true, 0.55, {}},
                      TiesCase{0.7, TrimScope::tensor, DisjointMerge::max, 1.2, false, 0.4, {}},
                      TiesCase{1.0, TrimScope::model, DisjointMerge::mean, 1.0, false, 0.55, {}},
                      TiesCase{0.2, TrimScope::model, DisjointMerge::mean, 1.0, true, 0.55, DType::bf16},
                      TiesCase{0.2, TrimScope::model, DisjointMerge::mean, 1.0, false, 0.55, DType::f64}));

// Streaming (a budget far below the slices: tensors cut into chunks of a few rows, many groups,
// inputs re-read on every pass) writes the same bytes as the in-memory merge.
TEST(EngineStreaming, TinyBudgetWritesTheSameBytesAsInMemory) {
  for (const TrimScope scope : {TrimScope::model, TrimScope::tensor}) {
    Inputs in({});
    in.job.method.set("trim_scope", scope == TrimScope::model ? "model" : "tensor");
    const MergeSummary whole = in.run();
    EXPECT_EQ(whole.groups, 1u);
    EXPECT_EQ(whole.idle_output_memory, 0u);  // in memory nothing is lent: the budget does not bind
    testing::RawCheckpoint expected;
    testing::read_checkpoint(in.job.output, expected, world());

    // Budgets this small also leave the method too little room for selection candidates, so it
    // falls back to radix passes over the data, and to a pass of its own for the signs.
    for (std::uint64_t budget : {600, 1000, 2000}) {
      in.job.memory_budget = budget;
      in.job.overwrite = true;
      const MergeSummary streamed = in.run();
      if (budget == 600) {
        EXPECT_GT(streamed.groups, 3u);
      }
      // Streaming, every full pass reads the inputs once more; the sample pass reads only a few rows.
      // Per tensor the counts run over runs of whole tensors (pipeline/analysis_runs.hpp), and a
      // run of one group is read once for all of its passes: no more reads than passes.
      // The report's share for the method stays within the budget's quarter (targets.cpp).
      EXPECT_LE(streamed.method_memory, budget / 4) << "budget " << budget;
      // Streaming, the analysis holds the output buffer's share as well, idle until the merge pass:
      // within what the slices leave of the budget.
      if (streamed.groups > 1) {
        EXPECT_GT(streamed.idle_output_memory, 0u) << "budget " << budget;
        EXPECT_LE(streamed.method_memory + streamed.idle_output_memory, budget) << "budget " << budget;
      }
      if (scope == TrimScope::model) {
        EXPECT_EQ(streamed.analysis_runs, 1u);
      }
      if (scope == TrimScope::model || streamed.groups == 1) {
        EXPECT_EQ(streamed.data_reads, streamed.groups > 1 ? streamed.analysis_passes : 1);
      } else {
        EXPECT_LE(streamed.data_reads, streamed.analysis_passes);
        EXPECT_GE(streamed.data_reads, 2);  // a count and the merge
        EXPECT_GE(streamed.analysis_runs, 1u) << "budget " << budget;
        if (budget == 600) {
          EXPECT_GT(streamed.analysis_runs, 1u);  // too small for every selection at once
        }
      }
      testing::RawCheckpoint got;
      testing::read_checkpoint(in.job.output, got, world());
      EXPECT_EQ(got, expected) << "budget " << budget;
    }
  }
}

TEST(EngineLinear, TaskArithmeticAndAverageFollowTheirFormulas) {
  testing::SetOptions options;
  options.with_f64 = false;
  Inputs in(options);
  in.job.method.method = "task_arithmetic";
  in.job.method.set("lambda", 0.5);
  in.run();
  auto output = in.output();
  for (std::size_t i = 0; i < in.set.tensors.size(); ++i) {
    const TensorInfo& t = in.set.tensors[i];
    if (!is_float(t.dtype)) continue;
    const auto base = decoded<float>(t, in.set.base[i]);
    std::vector<float> want(base.size());
    for (std::size_t e = 0; e < base.size(); ++e) {
      float sum = 0;
      for (const auto& m : in.set.models) sum += decoded<float>(t, m[i])[e] - base[e];
      want[e] = base[e] + 0.5f * sum;
    }
    testing::RawTensor raw(t.bytes());
    encode<float>(want, t.dtype, raw);
    EXPECT_EQ(output.at(t.name).second, raw) << t.name;
  }

  in.job.method.method = "average";
  in.job.method.params = {};
  in.job.base.reset();  // average needs no base: the first model lends the layout
  in.job.overwrite = true;
  in.run();
  output = in.output();
  for (std::size_t i = 0; i < in.set.tensors.size(); ++i) {
    const TensorInfo& t = in.set.tensors[i];
    if (!is_float(t.dtype)) continue;
    std::vector<float> want(t.elements(), 0.0f);
    for (const auto& m : in.set.models) {
      const auto v = decoded<float>(t, m[i]);
      for (std::size_t e = 0; e < want.size(); ++e) want[e] += 1.0f * v[e];
    }
    for (auto& w : want) w /= 3.0f;
    testing::RawTensor raw(t.bytes());
    encode<float>(want, t.dtype, raw);
    EXPECT_EQ(output.at(t.name).second, raw) << t.name;
  }
}

TEST(EngineErrors, NonFiniteValueOnOneRankStopsEveryRankAndLeavesNoOutput) {
  testing::SetOptions options;
  Inputs in(options);
  // A NaN in the last row of "long.bias" of model 2: on the last rank whatever the rank count.
  const auto at = std::find_if(in.set.tensors.begin(), in.set.tensors.end(), [](const TensorInfo& t) { return t.name == "long.bias"; });
  const std::size_t index = static_cast<std::size_t>(at - in.set.tensors.begin());
  auto& raw = in.set.models[1][index];
  raw[raw.size() - 2] = 0xC0;  // bf16 0x7FC0: NaN
  raw[raw.size() - 1] = 0x7F;
  testing::write_checkpoint(in.job.models[1], in.set.tensors, in.set.models[1], world());
  try {
    in.run();
    FAIL() << "expected an error";
  } catch (const AgreedError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("model 2"), std::string::npos) << text;
    EXPECT_NE(text.find("'long.bias'"), std::string::npos) << text;
    EXPECT_NE(text.find("NaN"), std::string::npos) << text;
    EXPECT_EQ(e.origin_rank(), world().size() - 1);
  }
  world().barrier();
  EXPECT_FALSE(std::filesystem::exists(in.job.output));
  EXPECT_FALSE(std::filesystem::exists(in.job.output + ".partial"));
}

TEST(EngineErrors, ExistingOutputIsKeptWithoutOverwrite) {
  Inputs in({});
  in.run();
  try {
    in.run();
    FAIL();
  } catch (const AgreedError& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos);
  }
  in.job.overwrite = true;
  EXPECT_NO_THROW(in.run());
}

TEST(EngineErrors, MismatchedModelsAreListed) {
  Inputs in({});
  auto tensors = in.set.tensors;
  tensors[0].shape = {5, 7};
  testing::write_checkpoint(in.job.models[2], tensors, in.set.models[2], world());
  try {
    in.run();
    FAIL();
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [5, 7] in model 3"), std::string::npos) << e.what();
  }
}

// Ranks that built different plans (different inputs) stop with one agreed error before any I/O,
// instead of hanging in collective calls that no longer match.
TEST(EnginePlan, RanksThatPlannedDifferentMergesStopTogether) {
  MergePlan plan;
  PlannedTensor t;
  t.output = {"w", DType::f32, {4, 2}};
  plan.tensors.push_back(t);
  EXPECT_NO_THROW(check_same_plan(plan, world()));
  if (world().size() == 1) return;
  if (world().rank() == world().size() - 1) plan.tensors[0].output.shape = {4, 3};
  EXPECT_THROW(check_same_plan(plan, world()), AgreedError);
  MergePlan other = plan;
  other.tensors[0].output.shape = {4, 2};
  other.tensors[0].output.name = world().rank() == 0 ? "w" : "v";
  EXPECT_THROW(check_same_plan(other, world()), AgreedError);
}

}  // namespace
}  // namespace mpimerge
