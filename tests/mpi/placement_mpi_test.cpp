// Where the ranks are: the hosts MPI names, each node's ranks and the budget its own share gives,
// and the log line that shows them on a job of several nodes (tests/slurm/nodes_merge_test.sh
// checks the same on a cluster of 2 and 4 nodes).
#include <gtest/gtest.h>
#include <unistd.h>

#include "pipeline/inputs.hpp"
#include "pipeline/targets.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

TEST(Placement, EveryRankNamesThisHost) {
  const auto names = world().processor_names();
  ASSERT_EQ(names.size(), static_cast<std::size_t>(world().size()));
  for (const auto& name : names) EXPECT_EQ(name, this_host());
}

TEST(Placement, OneNodeHoldsEveryRankAndTheGivenBudget) {
  const MemoryBudget budget = memory_budget(std::uint64_t{123456789}, world());
  EXPECT_EQ(budget.bytes, 123456789u);
  ASSERT_EQ(budget.nodes.size(), 1u);
  EXPECT_EQ(budget.nodes[0].host, this_host());
  std::vector<int> all(static_cast<std::size_t>(world().size()));
  for (int r = 0; r < world().size(); ++r) all[static_cast<std::size_t>(r)] = r;
  EXPECT_EQ(budget.nodes[0].ranks, all);
  EXPECT_EQ(budget.nodes[0].budget_per_rank, 123456789u);
}

TEST(Placement, WithoutABudgetTheNodesShareIsTheBudget) {
  const MemoryBudget budget = memory_budget(std::nullopt, world());
  ASSERT_EQ(budget.nodes.size(), 1u);
  EXPECT_EQ(budget.nodes[0].budget_per_rank, budget.bytes);
  EXPECT_GT(budget.bytes, 0u);
}

TEST(Placement, NodesLineOnlyForSeveralNodes) {
  const mpi::TransportSettings transport{"Open MPI v4.1.4", {{"pml", "ob1"}, {"btl", "tcp,self,vader"}}};
  EXPECT_EQ(nodes_line({{"n1", {0, 1, 2}, 500000000}}, transport), "");
  EXPECT_EQ(nodes_line({{"n1", {0, 1, 2}, 500000000}, {"n2", {3}, 2000000000}, {"n3", {4, 6}, 7000}}, transport),
            "nodes   3: n1 ranks 0-2 (its share: 500.00 MB per rank), n2 rank 3 (its share: 2.00 GB per rank), "
            "n3 ranks 4,6 (its share: 7.00 kB per rank); Open MPI v4.1.4, pml ob1, btl tcp,self,vader");
}

}  // namespace
}  // namespace mpimerge
