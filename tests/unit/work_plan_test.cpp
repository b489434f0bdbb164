// Cutting the merge into groups that fit a memory budget.
#include "pipeline/work_plan.hpp"

#include <gtest/gtest.h>

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

TEST(WorkPlan, AWholeTensorLargerThanTheGroupWantedGetsAGroupOfItsOwn) {
  const MergePlan plan = plan_of(kTensors, 5);
  std::vector<std::optional<WholeTensorNeed>> whole(kTensors.size());
  whole[0] = WholeTensorNeed{1000, 1.0};  // embed merged whole: far beyond a group of 1000 bytes
  const WorkPlan work = make_work_plan(plan, 2, 1 << 20, {}, whole, 1000);
  ASSERT_EQ(work.groups.size(), 2u);
  ASSERT_EQ(work.groups[0].size(), 1u);  // embed alone
  EXPECT_EQ(work.groups[0][0].tensor, 0u);
  EXPECT_EQ(work.groups[1].size(), 3u);  // the rest together
}

// Whole tensors beyond the group wanted share a group, up to one per rank and within the budget,
// each owned by another rank: in groups of one, one rank merged every tensor while the others
// waited (iso_cts on the 0.55B set, 2 ranks: rank 0 did all 93 matrices).
TEST(WorkPlan, WholeTensorsBeyondTheGroupWantedGoOnePerRankPerGroup) {
  const std::vector<TensorInfo> matrices(6, TensorInfo{"m", DType::bf16, {10, 8}});  // 96 bytes a row
  const MergePlan plan = plan_of(matrices, 5);
  const std::vector<std::optional<WholeTensorNeed>> whole(matrices.size(), WholeTensorNeed{2000, 1.0});
  for (int ranks : {1, 2, 3}) {
    const WorkPlan work = make_work_plan(plan, ranks, 1 << 20, {}, whole, 1000);
    ASSERT_EQ(work.groups.size(), matrices.size() / static_cast<std::size_t>(ranks)) << ranks << " ranks";
    for (std::size_t g = 0; g < work.groups.size(); ++g) {
      std::set<int> owners;
      for (const WorkUnit& unit : work.groups[g]) owners.insert(work.owner[unit.tensor]);
      EXPECT_EQ(owners.size(), static_cast<std::size_t>(ranks)) << ranks << " ranks, group " << g;
    }
  }
  // The budget stays the cap: one matrix's slice and working set fit, two slices and one set not.
  const std::uint64_t one = 5 * 96 + whole_tensor_bytes(plan.tensors[0], 2000);
  const WorkPlan tight = make_work_plan(plan, 2, one + 5 * 96 - 1, {}, whole, 1000);
  EXPECT_EQ(tight.groups.size(), matrices.size());
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
