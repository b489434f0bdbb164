// Cutting the merge into groups that fit a memory budget.
#include "pipeline/work_plan.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

MergePlan plan_of(const std::vector<TensorInfo>& tensors, std::size_t inputs) {
  MergePlan plan;
  for (const auto& t : tensors) {
    PlannedTensor p;
    p.output = t;
    p.input_dtype.assign(inputs, t.dtype);
    p.input_index.assign(inputs, 0);
    plan.tensors.push_back(p);
  }
  return plan;
}

const std::vector<TensorInfo> kTensors = {
    {"embed", DType::bf16, {100, 8}},  // 16 bytes a row and input; 5 inputs + output: 96 bytes a row
    {"norm", DType::f32, {8}},         // 1-D: a row is one element, 24 bytes with everything
    {"empty", DType::f32, {0, 3}},
    {"w", DType::bf16, {7, 8}},
};

TEST(WorkPlan, EverythingInOneGroupWhenItFits) {
  const WorkPlan work = make_work_plan(plan_of(kTensors, 5), 2, 1 << 20);
  ASSERT_EQ(work.groups.size(), 1u);
  EXPECT_FALSE(work.streaming());
  EXPECT_EQ(work.groups[0].size(), 4u);  // one unit per tensor, the empty one included
  EXPECT_EQ(bytes_per_row(plan_of(kTensors, 5).tensors[0]), 96u);
}

TEST(WorkPlan, ChunksAndGroupsStayWithinTheBudgetAndCoverEveryRowOnce) {
  const MergePlan plan = plan_of(kTensors, 5);
  for (int ranks : {1, 2, 3, 4}) {
    for (std::uint64_t budget : {96u, 200u, 1000u, 5000u}) {
      const WorkPlan work = make_work_plan(plan, ranks, budget);
      std::vector<std::vector<int>> covered(kTensors.size());
      for (std::size_t t = 0; t < kTensors.size(); ++t) covered[t].assign(kTensors[t].rows(), 0);
      for (const auto& group : work.groups) {
        std::uint64_t rank0_bytes = 0;
        for (const WorkUnit& unit : group) {
          rank0_bytes += work.rows(plan, unit, 0, ranks).count() * bytes_per_row(plan.tensors[unit.tensor]);
          for (int r = 0; r < ranks; ++r) {
            const RowRange rows = work.rows(plan, unit, r, ranks);
            EXPECT_LE(rows.count(), work.rows(plan, unit, 0, ranks).count());
            for (auto row = rows.begin; row < rows.end; ++row) ++covered[unit.tensor][row];
          }
        }
        EXPECT_LE(rank0_bytes, budget) << ranks << " ranks, budget " << budget;
      }
      for (const auto& rows : covered)
        for (int c : rows) ASSERT_EQ(c, 1) << ranks << " ranks, budget " << budget;
    }
  }
}

TEST(WorkPlan, GroupsOfTheSizeWantedUnderALargerBudget) {
  const MergePlan plan = plan_of(kTensors, 5);
  // embed: 50 rows of 96 bytes on rank 0 of 2; a group of 1000 bytes holds 10 of them.
  const WorkPlan work = make_work_plan(plan, 2, 1 << 20, {}, {}, 1000);
  EXPECT_EQ(work.group_bytes_limit, 1000u);
  EXPECT_EQ(work.chunking[0].rows_per_chunk, 10u);
  EXPECT_EQ(work.chunking[0].chunks, 5u);
  for (const auto& group : work.groups) {
    std::uint64_t bytes = 0;
    for (const WorkUnit& unit : group) bytes += work.rows(plan, unit, 0, 2).count() * bytes_per_row(plan.tensors[unit.tensor]);
    EXPECT_LE(bytes, 1000u);
  }
  // The budget stays the cap: a size wanted above it is the budget.
  EXPECT_EQ(make_work_plan(plan, 2, 500, {}, {}, 1000).group_bytes_limit, 500u);
}

TEST(WorkPlan, AWholeTensorLargerThanTheGroupWantedIsMergedInAGroupUpToTheBudget) {
  const MergePlan plan = plan_of(kTensors, 5);
  std::vector<std::optional<WholeTensorNeed>> whole(kTensors.size());
  whole[0] = WholeTensorNeed{1000, 1.0};  // embed merged whole: far beyond a group of 1000 bytes
  const WorkPlan work = make_work_plan(plan, 2, 1 << 20, {}, whole, 1000);
  ASSERT_EQ(work.groups.size(), 1u);  // the budget holds it and the rest
  EXPECT_EQ(work.groups[0].size(), 4u);
  // Tensors before it keep to the size wanted: a budget of one working set and a few rows.
  std::vector<std::optional<WholeTensorNeed>> last(kTensors.size());
  last[3] = WholeTensorNeed{1000, 1.0};
  const WorkPlan later = make_work_plan(plan, 2, 1 << 20, {}, last, 1000);
  EXPECT_GT(later.groups.size(), 1u);
  EXPECT_EQ(later.groups.back().back().tensor, 3u);
}

// A group that merges whole tensors grows to the budget, whatever the size wanted, and its owners
// split its tensors evenly: in groups of one (the size wanted, 469 MB, below one working set), one
// rank merged all 93 matrices of the 0.55B iso_cts merge at 2 ranks while the other waited.
TEST(WorkPlan, WholeTensorsGroupUpToTheBudgetAndSplitEvenlyOverTheRanks) {
  const std::vector<TensorInfo> matrices(6, TensorInfo{"m", DType::bf16, {12, 8}});  // 96 bytes a row
  const MergePlan plan = plan_of(matrices, 5);
  const std::vector<std::optional<WholeTensorNeed>> whole(matrices.size(), WholeTensorNeed{2000, 1.0});
  for (int ranks : {1, 2, 3}) {
    const WorkPlan work = make_work_plan(plan, ranks, 1 << 20, {}, whole, 1000);
    ASSERT_EQ(work.groups.size(), 1u) << ranks << " ranks";
    std::vector<int> owned(static_cast<std::size_t>(ranks), 0);
    for (const WorkUnit& unit : work.groups[0]) ++owned.at(static_cast<std::size_t>(work.owner[unit.tensor]));
    for (int count : owned) EXPECT_EQ(count, 6 / ranks) << ranks << " ranks";
  }
  // The budget stays the cap: a group holds one slice per tensor and one working set at a time.
  const std::uint64_t slice = 6 * 96, one = slice + whole_tensor_bytes(plan.tensors[0], 2000);
  const WorkPlan tight = make_work_plan(plan, 2, one + 2 * slice - 1, {}, whole, 1000);
  ASSERT_EQ(tight.groups.size(), 3u);
  for (const auto& group : tight.groups) {
    EXPECT_EQ(group.size(), 2u);
    EXPECT_NE(tight.owner[group[0].tensor], tight.owner[group[1].tensor]);
  }
}

// Small tensors are held whole by one rank, in runs of neighbours that go to the ranks in turn:
// every row once, each rank's groups within the budget, the largest share bounding the rest.
TEST(WorkPlan, SmallTensorsAreHeldWholeInRunsSpreadOverTheRanks) {
  // 64 tensors of 512 KiB (f32; 5 inputs and the output: 3 MiB each in memory), then a large one
  // (2 MiB) and a tensor merged whole: those two stay split.
  std::vector<TensorInfo> tensors(64, TensorInfo{"small", DType::f32, {128, 1024}});
  tensors.push_back({"large", DType::f32, {512, 1024}});
  tensors.push_back({"whole", DType::f32, {4, 4}});
  const MergePlan plan = plan_of(tensors, 5);
  std::vector<std::optional<WholeTensorNeed>> whole(tensors.size());
  whole.back() = WholeTensorNeed{100, 1.0};
  for (int ranks : {1, 2, 3, 4}) {
    const std::uint64_t budget = std::uint64_t{64} << 20;
    const WorkPlan work = make_work_plan(plan, ranks, budget, {}, whole, 0, kHeldTensorBytes);
    std::vector<int> held(static_cast<std::size_t>(ranks), 0);
    int runs = 0;
    for (std::size_t t = 0; t < 64; ++t) {
      if (ranks == 1) {
        EXPECT_EQ(work.holder[t], -1);
        continue;
      }
      ASSERT_GE(work.holder[t], 0);
      ++held[static_cast<std::size_t>(work.holder[t])];
      if (t == 0 || work.holder[t] != work.holder[t - 1]) ++runs;
      if (t > 0 && work.holder[t] != work.holder[t - 1]) {  // the next run goes to the next rank
        EXPECT_EQ(work.holder[t], (work.holder[t - 1] + 1) % ranks) << t;
      }
    }
    EXPECT_EQ(work.holder[64], -1);
    EXPECT_EQ(work.holder[65], -1);
    if (ranks > 1) {
      // 32 MiB held: runs of at most 4 MiB (8 tensors), at least four per rank.
      EXPECT_GE(runs, 4 * ranks) << ranks << " ranks";
      EXPECT_GE(runs, 8) << ranks << " ranks";
      for (int count : held) EXPECT_NEAR(count, 64 / ranks, 64 / (4 * ranks) + 1) << ranks << " ranks";
    }
    std::vector<std::vector<int>> covered(tensors.size());
    for (std::size_t t = 0; t < tensors.size(); ++t) covered[t].assign(tensors[t].rows(), 0);
    for (const auto& group : work.groups) {
      std::vector<std::uint64_t> bytes(static_cast<std::size_t>(ranks), 0);
      for (const WorkUnit& unit : group)
        for (int r = 0; r < ranks; ++r) {
          const RowRange rows = work.rows(plan, unit, r, ranks);
          EXPECT_LE(rows.count(), work.most_rows(plan, unit, ranks));
          bytes[static_cast<std::size_t>(r)] += rows.count() * bytes_per_row(plan.tensors[unit.tensor]);
          for (auto row = rows.begin; row < rows.end; ++row) ++covered[unit.tensor][row];
          if (work.holder[unit.tensor] >= 0 && r != work.holder[unit.tensor]) {
            EXPECT_TRUE(rows.empty());
          }
        }
      for (std::uint64_t b : bytes) EXPECT_LE(b, budget) << ranks << " ranks";
    }
    for (const auto& rows : covered)
      for (int c : rows) ASSERT_EQ(c, 1) << ranks << " ranks";
  }
  // Not held at all by default (the engine asks for it: held_tensor_bytes_for).
  for (int h : make_work_plan(plan, 3, std::uint64_t{64} << 20, {}, whole).holder) EXPECT_EQ(h, -1);
}

TEST(WorkPlan, SmallTensorsAreHeldInCheckpointsOfManyTensors) {
  const MergePlan few = plan_of(std::vector<TensorInfo>(kHeldFromTensors - 1, TensorInfo{"t", DType::f32, {4}}), 2);
  const MergePlan many = plan_of(std::vector<TensorInfo>(kHeldFromTensors, TensorInfo{"t", DType::f32, {4}}), 2);
  if (std::getenv("MPIMERGE_HOLD_SMALL_TENSORS")) GTEST_SKIP() << "MPIMERGE_HOLD_SMALL_TENSORS is set";
  EXPECT_EQ(held_tensor_bytes_for(few), 0u);
  EXPECT_EQ(held_tensor_bytes_for(many), kHeldTensorBytes);
}

TEST(WorkPlan, ABudgetBelowOneRowIsRefusedNamingTheTensor) {
  try {
    make_work_plan(plan_of(kTensors, 5), 2, 50);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("one row of tensor 'embed'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mpimerge
