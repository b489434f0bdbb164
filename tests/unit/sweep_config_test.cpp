// The sweep grid file: the product of its axes, without the axes a method does not use.
#include <gtest/gtest.h>

#include "mpimerge/job/sweep_file.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

const char* kGrid = R"(
base: set/base.h5
models: [set/a.h5, set/b.h5]
output_dir: out
out_dtype: float32
memory_budget: 1G
grid:
  method: [ties, task_arithmetic, average]
  density: [0.1, 20]
  lambda: [0.5, 1.0]
  trim_scope: [model, tensor]
)";

TEST(SweepConfig, ProductPerMethodOfTheAxesItUses) {
  const Sweep s = parse_sweep(kGrid, "grid.yaml");
  ASSERT_EQ(s.points.size(), 8u + 2u + 1u);  // ties 2x2x2, task arithmetic 2 lambdas, average 1
  EXPECT_EQ(s.points[0].name, "ties-d0.1-l0.5-model");
  EXPECT_EQ(s.points[0].job.output, "out/ties-d0.1-l0.5-model.h5");
  EXPECT_EQ(s.points[1].name, "ties-d0.2-l0.5-model");  // 20 is a percentage, as --density
  EXPECT_EQ(s.points[1].job.method.params.global().at("density").to_string(), "0.2");
  EXPECT_EQ(s.points[7].job.method.params.global().at("trim_scope").to_string(), "tensor");
  EXPECT_EQ(s.points[8].name, "task_arithmetic-l0.5");  // task arithmetic keeps every entry: no density axis
  EXPECT_EQ(s.points[9].job.method.params.global().at("lambda").to_string(), "1");
  EXPECT_EQ(s.points[10].name, "average");
  for (const auto& p : s.points) {
    EXPECT_EQ(*p.job.base, "set/base.h5");
    EXPECT_EQ(p.job.models.size(), 2u);
    EXPECT_EQ(p.job.out_dtype, DType::f32);
    EXPECT_EQ(*p.job.memory_budget, 1'000'000'000u);  // 1G = 1e9, as every size option
  }
}

// Any parameter a method declares sweepable is an axis, not a fixed few; points of the methods
// that do not sweep it leave it out; fixed parameters go to every method that takes them.
TEST(SweepConfig, AnySweepableParameterIsAnAxis) {
  const Sweep s = parse_sweep(R"(
base: b
models: [m1, m2]
output_dir: o
parameters: {seed: 7}
grid:
  method: [dare_ties, breadcrumbs, ties]
  density: [0.5]
  gamma: [0.01, 0.1]
  seed: [1, 2]
)",
                              "g");
  std::vector<std::string> names;
  for (const auto& p : s.points) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dare_ties-d0.5-seed1", "dare_ties-d0.5-seed2", "breadcrumbs-d0.5-gamma0.01",
                                             "breadcrumbs-d0.5-gamma0.1", "ties-d0.5"}));
  EXPECT_EQ(s.points[0].job.method.params.global().at("seed").to_string(), "1");  // the axis over the fixed value
  EXPECT_FALSE(s.points[2].job.method.params.global().count("seed"));            // breadcrumbs takes no seed
}

TEST(SweepConfig, RefusesAnAxisNoMethodOfTheGridSweeps) {
  const std::string ok = "base: b\nmodels: [m]\noutput_dir: o\n";
  for (const std::string& bad : {ok + "grid: {method: [task_arithmetic], density: [0.1, 0.2]}\n",  // no effect there
                                ok + "grid: {method: [average], lambda: [1, 2]}\n",
                                ok + "grid: {method: [ties], gamma: [0.1]}\n",
                                ok + "grid: {method: [linear], weight: [1, 2]}\n"})                 // per model: not an axis
    EXPECT_THROW(parse_sweep(bad, "g"), UsageError) << bad;
}

TEST(SweepConfig, SafetensorsOutputsAreDirectories) {
  const Sweep s = parse_sweep("base: b\nmodels: [m]\noutput_dir: o\noutput_format: safetensors\ngrid: {method: task_arithmetic}\n", "g");
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].job.output, "o/task_arithmetic/");
}

TEST(SweepConfig, RefusesWhatItDoesNotKnow) {
  const std::string ok = "base: b\nmodels: [m]\noutput_dir: o\n";
  for (const std::string& bad : {ok + "grid: {method: ties, bogus: 1}\n", ok + "grid: {density: [abc]}\n",
                                ok + "grid: {density: [0]}\n", ok + "gird: {}\ngrid: {}\n", std::string("base: b\noutput_dir: o\ngrid: {}\n"),
                                ok + "grid: {lambda: []}\n", std::string("[1, 2]"), std::string(": : :")})
    EXPECT_THROW(parse_sweep(bad, "g"), UsageError) << bad;
}

// Found by fuzz/sweep_config_fuzzer.cpp (fuzz/regressions/sweep_config/): yaml-cpp's own
// exceptions (a map where a path belongs) escaped as something other than a UsageError, so the
// program ended with MPI_Abort instead of its one-line error.
TEST(SweepConfig, YamlConversionErrorsAreUsageErrors) {
  const std::string ok = "output_dir: o\ngrid: {density: 0.2}\n";
  for (const std::string& bad : {"base: b.h5\nmodels:\n  - a.hsmity: 0.2\n" + ok, "base: b\nmodels: [[a]]\n" + ok,
                                "base: [b]\nmodels: [a]\n" + ok, "base: b\nmodels: [a]\n[k]: v\n" + ok,
                                std::string("base: b\nmodels: [a]\noutput_dir: o\ngrid: {[x]: 1}\n"),
                                std::string("base: b\nmodels: [a]\noutput_dir: o\nout_dtype: [f]\ngrid: {}\n")})
    EXPECT_THROW(parse_sweep(bad, "g"), UsageError) << bad;
}

// Found by the fuzzer (fuzz/regressions/sweep_config/memory-budget-overflows-uint64.yaml): a memory
// size past 2^64 bytes was converted from double to uint64, which is undefined behaviour.
TEST(SweepConfig, RefusesAMemoryBudgetPastTwoToThe64) {
  for (const std::string size : {"1111111111111111111111111111111G", "inf", "16E"})
    EXPECT_THROW(parse_sweep("base: b\nmodels: [a]\noutput_dir: o\nmemory_budget: " + size + "\ngrid: {}\n", "g"),
                 UsageError)
        << size;
}

TEST(SweepConfig, RefusesAGridTooLargeToBeMeant) {
  std::string densities, lambdas;
  for (int i = 1; i <= 101; ++i) {  // 101 x 101 points
    densities.append(i > 1 ? ", " : "").append(std::to_string(i / 101.0));
    lambdas.append(i > 1 ? ", " : "").append(std::to_string(i));
  }
  const std::string grid = "base: b\nmodels: [a]\noutput_dir: o\ngrid: {density: [" + densities + "], lambda: [" + lambdas + "]}\n";
  EXPECT_THROW(parse_sweep(grid, "g"), UsageError);
}

}  // namespace
}  // namespace mpimerge
