// Tensors merged whole on one rank (MergeMethod::whole_merge: tsv_m, iso_c, iso_cts) through the
// engine at this rank count: gathered to their owners, merged there and sent back, the same bytes
// as the method on one process (tests/support/method_driver.hpp) whatever the rank count, the
// memory budget (streamed groups) or the number of matrices per rank. Run at 1, 2, 3 and 4 ranks.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "mpimerge/commands/merge.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/methods/registry.hpp"
#include "support/checkpoint_files.hpp"
#include "support/method_driver.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

// A 1 × n and an n × 1 matrix, one in float64, a 1-D tensor, and matrices whose task vectors are
// rank-deficient: model 2's 'rank_one' is rank 1, and 'same' changes identically in every model.
const std::vector<TensorInfo> kTensors{
    {"big", DType::f32, {40, 30}},
    {"row", DType::bf16, {1, 9}},
    {"column", DType::f32, {9, 1}},
    {"wide", DType::f64, {4, 6}},
    {"norm", DType::f32, {6}},
    {"rank_one", DType::bf16, {7, 5}},
    {"same", DType::f32, {6, 6}},
};
constexpr std::size_t kModels = 3;

struct Inputs {
  std::vector<std::vector<double>> base;                  // per tensor
  std::vector<std::vector<std::vector<double>>> models;   // per model, per tensor
};

Inputs make_inputs() {
  std::mt19937_64 rng(16);
  std::normal_distribution<double> normal(0.0, 1.0);
  Inputs in;
  in.models.resize(kModels);
  for (const TensorInfo& t : kTensors) {
    const std::size_t n = t.elements();
    std::vector<double> base(n);
    for (auto& x : base) x = normal(rng);
    std::vector<double> shared(n);
    for (auto& x : shared) x = 0.01 * normal(rng);
    // Rank one: u vᵀ over the tensor's rows and columns.
    const std::size_t rows = t.shape[0], cols = n / rows;
    std::vector<double> u(rows), v(cols);
    for (auto& x : u) x = normal(rng);
    for (auto& x : v) x = 0.01 * normal(rng);
    for (std::size_t m = 0; m < kModels; ++m) {
      std::vector<double> theta(n);
      for (std::size_t i = 0; i < n; ++i) {
        double tau = 0.01 * normal(rng);
        if (t.name == "same") tau = shared[i];
        if (t.name == "rank_one" && m == 1) tau = u[i / cols] * v[i % cols];
        theta[i] = base[i] + tau;
      }
      // Rounded to the tensor's dtype, as the file will hold it.
      std::vector<std::uint8_t> raw(t.bytes());
      encode<double>(theta, t.dtype, raw);
      decode<double>(t.dtype, raw, theta);
      in.models[m].push_back(theta);
    }
    std::vector<std::uint8_t> raw(t.bytes());
    encode<double>(base, t.dtype, raw);
    decode<double>(t.dtype, raw, base);
    in.base.push_back(base);
  }
  return in;
}

testing::RawCheckpoint encoded(const std::vector<std::vector<double>>& tensors) {
  testing::RawCheckpoint out;
  for (std::size_t t = 0; t < kTensors.size(); ++t) {
    out.emplace_back(kTensors[t].bytes());
    encode<double>(tensors[t], kTensors[t].dtype, out.back());
  }
  return out;
}

// The method on this process over whole tensors, encoded as the output will be.
std::map<std::string, testing::RawTensor> serial_reference(const MethodOptions& options, const Inputs& in) {
  testing::DriverInput driver;
  driver.shape.models = kModels;
  driver.shape.has_base = true;
  for (std::size_t t = 0; t < kTensors.size(); ++t) {
    const TensorInfo& info = kTensors[t];
    const bool f64 = info.dtype == DType::f64;
    driver.shape.tensors.push_back({info.name, info.shape, info.elements(), f64 ? ComputeType::f64 : ComputeType::f32});
    auto fill = [&](auto& tensor) {
      tensor.base.assign(in.base[t].begin(), in.base[t].end());
      for (std::size_t m = 0; m < kModels; ++m) tensor.models.emplace_back(in.models[m][t].begin(), in.models[m][t].end());
    };
    if (f64) fill(driver.f64.emplace_back());
    else fill(driver.f32.emplace_back());
  }
  auto method = make_method(options, kModels);
  const testing::DriverOutput out = testing::run_serially(*method, driver, 64);
  std::map<std::string, testing::RawTensor> expected;
  std::size_t i32 = 0, i64 = 0;
  for (const TensorInfo& info : kTensors) {
    testing::RawTensor raw(info.bytes());
    if (info.dtype == DType::f64) encode<double>(out.f64[i64++], info.dtype, raw);
    else encode<float>(out.f32[i32++], info.dtype, raw);
    expected[info.name] = raw;
  }
  return expected;
}

class WholeTensors : public ::testing::TestWithParam<std::string> {};

TEST_P(WholeTensors, SameBytesAsOneProcessAtAnyRankCountBudgetAndShareOfMatrices) {
  const Inputs in = make_inputs();
  testing::SharedTempDir dir(world());
  MergeJob job;
  job.quiet = true;
  job.report = false;
  job.method.method = GetParam();
  job.method.set("lambda", 0.7);
  testing::write_checkpoint(dir.file("base.h5"), kTensors, encoded(in.base), world());
  job.base = dir.file("base.h5");
  for (std::size_t m = 0; m < kModels; ++m) {
    job.models.push_back(dir.file("ft-" + std::to_string(m) + ".h5"));
    testing::write_checkpoint(job.models.back(), kTensors, encoded(in.models[m]), world());
  }
  // All six matrices whole; then only one (more ranks than matrices from 2 ranks on).
  for (const std::string& exclude : std::vector<std::string>{"none", "big,row,column,wide,same"}) {
    job.method.set("exclude", exclude);
    const auto expected = serial_reference(job.method, in);
    for (std::optional<std::uint64_t> budget : {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{300000}}) {
      job.memory_budget = budget;
      job.output = dir.file("merged.h5");
      job.overwrite = true;
      const Log silent(false, true, std::cout);
      const MergeSummary summary = run_merge(job, world(), silent);
      testing::RawCheckpoint raw;
      const auto infos = testing::read_checkpoint(job.output, raw, world());
      ASSERT_EQ(infos.size(), kTensors.size());
      for (std::size_t t = 0; t < infos.size(); ++t)
        EXPECT_EQ(raw[t], expected.at(infos[t].name))
            << GetParam() << ": tensor " << infos[t].name << " at " << world().size() << " ranks, exclude " << exclude
            << ", budget " << budget.value_or(0) << ", " << summary.groups << " groups";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TaskSingular, WholeTensors, ::testing::Values("tsv_m", "iso_c", "iso_cts"),
                         [](const auto& info) { return info.param; });

TEST(WholeTensorsBudget, AMatrixWhoseMergeCannotFitIsRefusedNamingIt) {
  const Inputs in = make_inputs();
  testing::SharedTempDir dir(world());
  MergeJob job;
  job.quiet = true;
  job.report = false;
  job.method.method = "tsv_m";
  testing::write_checkpoint(dir.file("base.h5"), kTensors, encoded(in.base), world());
  job.base = dir.file("base.h5");
  for (std::size_t m = 0; m < kModels; ++m) {
    job.models.push_back(dir.file("ft-" + std::to_string(m) + ".h5"));
    testing::write_checkpoint(job.models.back(), kTensors, encoded(in.models[m]), world());
  }
  job.output = dir.file("merged.h5");
  job.memory_budget = 30000;  // 'big''s rows fit (about 24 KB at one rank), its whole merge does not
  try {
    run_merge(job, world(), Log(false, true, std::cout));
    ADD_FAILURE() << "the merge ran";
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot hold the merge of 'big' [40, 30] whole on one rank"), std::string::npos)
        << e.what();
  }
  // Excluded, it is averaged, and the merge fits.
  job.method.set("exclude", "big");
  EXPECT_NO_THROW(run_merge(job, world(), Log(false, true, std::cout)));
}

}  // namespace
}  // namespace mpimerge
