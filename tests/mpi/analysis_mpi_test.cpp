// mpimerge analyze through the engine at the world's rank count: the statistics equal the serial
// oracle's on checkpoints of every float dtype (float64 among them: 64-bit keys), with copied
// integer tensors left out, and the CSV is the same bytes as the oracle-checked run's at any rank count.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include "mpimerge/analysis/stats_output.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/commands/analyze.hpp"
#include "support/checkpoint_files.hpp"
#include "support/serial_analysis.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

template <class T>
std::vector<T> decoded(const TensorInfo& info, const testing::RawTensor& raw) {
  std::vector<T> out(info.elements());
  decode<T>(info.dtype, raw, std::span<T>(out));
  return out;
}

// tau in the compute type (float, or double for float64 tensors), as double.
std::vector<double> task_vector(const TensorInfo& info, const testing::RawTensor& model, const testing::RawTensor& base) {
  std::vector<double> tau(info.elements());
  if (info.dtype == DType::f64) {
    const auto m = decoded<double>(info, model), b = decoded<double>(info, base);
    for (std::size_t i = 0; i < tau.size(); ++i) tau[i] = m[i] - b[i];
  } else {
    const auto m = decoded<float>(info, model), b = decoded<float>(info, base);
    for (std::size_t i = 0; i < tau.size(); ++i) tau[i] = static_cast<double>(m[i] - b[i]);
  }
  return tau;
}

TEST(Analyze, EqualsTheSerialOracleAtThisRankCount) {
  testing::SharedTempDir dir(world());
  for (bool with_f64 : {true, false}) {
    testing::SetOptions set_options;
    set_options.models = 3;
    set_options.seed = with_f64 ? 11 : 12;
    set_options.with_f64 = with_f64;
    const auto set = testing::random_checkpoint_set(set_options);
    AnalysisJob job;
    job.base = dir.file("base.h5");
    testing::write_checkpoint(job.base, set.tensors, set.base, world());
    for (std::size_t m = 0; m < set.models.size(); ++m) {
      job.models.push_back(dir.file("ft" + std::to_string(m) + ".h5"));
      testing::write_checkpoint(job.models.back(), set.tensors, set.models[m], world());
    }
    job.options.densities = {0.1, 0.3, 1.0};
    job.json_path = dir.file("stats.json");
    job.csv_path = dir.file("stats.csv");
    job.overwrite = true;
    job.quiet = true;
    const Log silent(false, true, std::cout);
    const TaskVectorStats stats = run_analysis(job, world(), silent);

    testing::TaskVectors tau;
    for (const std::string& name : stats.tensor_names) {
      std::size_t t = 0;
      while (set.tensors[t].name != name) ++t;
      tau.emplace_back();
      for (std::size_t m = 0; m < set.models.size(); ++m)
        tau.back().push_back(task_vector(set.tensors[t], set.models[m][t], set.base[t]));
    }
    std::size_t float_tensors = 0;
    for (const auto& info : set.tensors) float_tensors += is_float(info.dtype);
    EXPECT_EQ(stats.tensor_names.size(), float_tensors);
    testing::expect_same_stats(stats, testing::serial_analysis(tau, set.models.size(), job.options));
    if (world().is_root()) {
      std::ifstream csv(job.csv_path);
      EXPECT_EQ(std::string((std::istreambuf_iterator<char>(csv)), {}), stats_to_csv(stats));
      std::ifstream json(job.json_path);
      const auto j = nlohmann::json::parse(json);
      EXPECT_EQ(j.at("ranks").get<int>(), world().size());
      EXPECT_EQ(j.at("tasks").size(), 3u);
    }
  }
}

}  // namespace
}  // namespace mpimerge
