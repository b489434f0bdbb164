// Runs of whole tensors for methods that analyse each tensor on its own (pipeline/analysis_runs.hpp).
#include "pipeline/analysis_runs.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace mpimerge {
namespace {

// Tensors of `rows` rows of 8 bf16 each, over 4 inputs; those marked copied are not merged.
MergePlan plan_of(const std::vector<std::uint64_t>& rows, const std::vector<bool>& copied = {}) {
  MergePlan plan;
  std::size_t merged = 0;
  for (std::size_t t = 0; t < rows.size(); ++t) {
    PlannedTensor p;
    std::string name = "t";
    name += std::to_string(t);  // not "t" + ...: GCC 12's -Wrestrict false positive
    p.output = TensorInfo{name, DType::bf16, {rows[t], 8}};
    p.input_dtype.assign(4, DType::bf16);
    p.input_index.assign(4, t);
    if (t < copied.size() && copied[t]) {
      p.action = TensorAction::copy_from_base;
    } else {
      p.merged_index = merged++;
      plan.shape.tensors.push_back(MergedTensor{p.output.name, p.output.shape, rows[t] * 8});
    }
    plan.tensors.push_back(p);
  }
  return plan;
}

// Every merged tensor's groups lie in exactly one run, runs follow each other in group order, and
// their tensor ranges cover the merged tensors once, in order.
void expect_runs_cover_whole_tensors(const MergePlan& plan, const WorkPlan& work, const std::vector<AnalysisRun>& runs) {
  std::size_t next_tensor = 0, after_group = 0;
  for (const AnalysisRun& run : runs) {
    EXPECT_LT(run.groups.first, run.groups.end);
    EXPECT_GE(run.groups.first, after_group);
    EXPECT_EQ(run.first_tensor, next_tensor);
    EXPECT_LT(run.first_tensor, run.end_tensor);
    next_tensor = run.end_tensor;
    after_group = run.groups.end;
  }
  EXPECT_EQ(next_tensor, plan.shape.tensors.size());
  for (std::size_t g = 0; g < work.groups.size(); ++g)
    for (const WorkUnit& unit : work.groups[g]) {
      const PlannedTensor& tensor = plan.tensors[unit.tensor];
      if (tensor.action != TensorAction::merge) continue;
      int in = 0;
      for (const AnalysisRun& run : runs) {
        const bool group_in = g >= run.groups.first && g < run.groups.end;
        const bool tensor_in = tensor.merged_index >= run.first_tensor && tensor.merged_index < run.end_tensor;
        EXPECT_EQ(group_in, tensor_in) << "tensor " << unit.tensor << ", group " << g;
        in += group_in;
      }
      EXPECT_EQ(in, 1) << "group " << g;
    }
}

TEST(AnalysisRuns, OneRunOverEveryGroupWhenTheWantsFitOrThereAreNone) {
  const MergePlan plan = plan_of({100, 7, 50});
  const WorkPlan work = make_work_plan(plan, 2, 1000);
  ASSERT_GT(work.groups.size(), 3u);
  for (const std::vector<std::uint64_t>& wants : {std::vector<std::uint64_t>{}, std::vector<std::uint64_t>{10, 10, 10}}) {
    const auto runs = analysis_runs(plan, work, wants, 30);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].groups.first, 0u);
    EXPECT_EQ(runs[0].groups.end, work.groups.size());
    EXPECT_EQ(runs[0].first_tensor, 0u);
    EXPECT_EQ(runs[0].end_tensor, 3u);
  }
}

TEST(AnalysisRuns, RunsHoldWholeTensorsWithinTheMemory) {
  const std::vector<std::uint64_t> rows = {100, 3, 3, 3, 60, 1, 2, 80, 5};
  const MergePlan plan = plan_of(rows);
  const std::vector<std::uint64_t> wants = {40, 10, 10, 10, 30, 5, 5, 50, 20};
  for (int ranks : {1, 2, 3})
    for (std::uint64_t budget : {200u, 700u, 3000u}) {
      const WorkPlan work = make_work_plan(plan, ranks, budget);
      for (std::uint64_t memory : {1u, 30u, 45u, 100u}) {
        const auto runs = analysis_runs(plan, work, wants, memory);
        SCOPED_TRACE(std::to_string(ranks) + " ranks, budget " + std::to_string(budget) + ", memory " + std::to_string(memory));
        expect_runs_cover_whole_tensors(plan, work, runs);
        for (const AnalysisRun& run : runs) {
          const std::uint64_t want = std::accumulate(wants.begin() + run.first_tensor, wants.begin() + run.end_tensor, std::uint64_t{0});
          // Over the memory only where no group boundary inside the run is free of a tensor crossing it.
          if (want > memory && run.end_tensor - run.first_tensor > 1) {
            bool crossed_everywhere = true;
            for (std::size_t t = run.first_tensor + 1; t < run.end_tensor; ++t) {
              // tensor t-1 ends in the group where tensor t starts: the boundary is inside a group
              std::size_t last_of_previous = 0, first_of_t = work.groups.size();
              for (std::size_t g = 0; g < work.groups.size(); ++g)
                for (const WorkUnit& unit : work.groups[g]) {
                  if (plan.tensors[unit.tensor].merged_index == t - 1) last_of_previous = g;
                  if (plan.tensors[unit.tensor].merged_index == t) first_of_t = std::min(first_of_t, g);
                }
              crossed_everywhere = crossed_everywhere && last_of_previous == first_of_t;
            }
            EXPECT_TRUE(crossed_everywhere) << "run of tensors " << run.first_tensor << ".." << run.end_tensor
                                            << " wants " << want << " over " << memory;
          }
        }
        if (memory == 1 && budget == 200u) {
          EXPECT_GE(runs.size(), 5u);  // small groups: a run per tensor or two
        }
      }
    }
}

TEST(AnalysisRuns, GroupsOfCopiedTensorsOnlyBelongToNoRun) {
  const MergePlan plan = plan_of({40, 40, 40, 40}, {false, true, true, false});
  const WorkPlan work = make_work_plan(plan, 1, 40 * 5 * 16);  // a tensor per group
  ASSERT_EQ(work.groups.size(), 4u);
  const auto runs = analysis_runs(plan, work, std::vector<std::uint64_t>{10, 10}, 15);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].groups.first, 0u);
  EXPECT_EQ(runs[0].groups.end, 1u);
  EXPECT_EQ(runs[1].groups.first, 3u);
  EXPECT_EQ(runs[1].groups.end, 4u);
  EXPECT_EQ(runs[1].first_tensor, 1u);
  EXPECT_EQ(runs[1].end_tensor, 2u);
  // Together they fit: one run over every group, as without runs.
  const auto fitting = analysis_runs(plan, work, std::vector<std::uint64_t>{10, 10}, 20);
  ASSERT_EQ(fitting.size(), 1u);
}

}  // namespace
}  // namespace mpimerge
