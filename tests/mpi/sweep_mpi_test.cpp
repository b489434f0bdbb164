// A sweep writes, for every grid point, exactly the bytes that the same merge run alone writes,
// while reading the inputs once (in memory) or once per shared pass (streaming).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "mpimerge/commands/merge.hpp"
#include "mpimerge/commands/sweep.hpp"
#include "support/checkpoint_files.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(Sweep, EveryPointEqualsItsOwnMergeAndTheInputsAreReadOnce) {
  testing::SharedTempDir dir(world());
  const auto set = testing::random_checkpoint_set({});
  testing::write_checkpoint(dir.file("base.h5"), set.tensors, set.base, world());
  std::string models;
  for (std::size_t m = 0; m < set.models.size(); ++m) {
    testing::write_checkpoint(dir.file("ft" + std::to_string(m) + ".h5"), set.tensors, set.models[m], world());
    models += (m ? ", " : "") + dir.file("ft" + std::to_string(m) + ".h5");
  }
  const Log silent(false, true, std::cout);
  for (const std::string& budget : {std::string(""), std::string("memory_budget: 700\n")}) {
    const std::string out = dir.file(budget.empty() ? "sweep" : "sweep-streamed");
    const Sweep sweep = parse_sweep("base: " + dir.file("base.h5") + "\nmodels: [" + models + "]\noutput_dir: " + out +
                                        "\n" + budget + "grid:\n  method: [ties, task_arithmetic]\n  density: [0.1, 0.3]\n"
                                        "  lambda: [0.7, 1.0]\n  trim_scope: [model, tensor]\n",
                                    "grid");
    ASSERT_EQ(sweep.points.size(), 10u);
    SweepOptions options;
    options.quiet = true;
    const SweepResult result = run_sweep(sweep, options, world(), silent);
    ASSERT_EQ(result.summaries.size(), sweep.points.size());
    if (budget.empty()) {
      EXPECT_EQ(result.summaries[0].data_reads, 1);
    } else {
      EXPECT_GT(result.summaries[0].groups, 1u);
    }
    for (const auto& point : sweep.points) {
      MergeJob alone = point.job;
      alone.output = dir.file("alone.h5");
      alone.overwrite = true;
      alone.quiet = true;
      alone.report = false;
      run_merge(alone, world(), silent);
      if (world().is_root()) {
        EXPECT_EQ(read_file(point.job.output), read_file(alone.output)) << point.name;
      }
    }
    if (world().is_root()) {
      std::ifstream csv(result.csv_path);
      std::string line;
      std::size_t rows = 0;
      while (std::getline(csv, line)) ++rows;
      EXPECT_EQ(rows, sweep.points.size() + 1);
    }
  }
}

}  // namespace
}  // namespace mpimerge
