// Distributed radix selection equals a full sort on one process, at every rank count.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "mpimerge/float_bits.hpp"
#include "mpimerge/selection/radix.hpp"
#include "mpimerge/selection/sampled.hpp"
#include "mpimerge/tensor.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

// The same global keys on every rank; each rank feeds only the rows it owns.
std::vector<std::uint64_t> global_keys(std::size_t n, std::uint64_t seed, bool wide, bool few_values) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.02);
  std::uniform_int_distribution<int> small(-3, 3);
  std::vector<std::uint64_t> keys(n);
  for (auto& k : keys) {
    const double x = few_values ? small(rng) / 64.0 : normal(rng);
    k = wide ? bits::magnitude_key(x) : bits::magnitude_key(static_cast<float>(x));
  }
  return keys;
}

TEST(DistributedSelection, EqualsSortingTheWholeArray) {
  const auto& comm = world();
  for (bool wide : {false, true}) {
    for (bool few_values : {false, true}) {
      std::vector<std::vector<std::uint64_t>> problems;
      for (std::size_t n : {1, 2, 5, 1000, 40000}) problems.push_back(global_keys(n, n + wide, wide, few_values));
      std::vector<std::uint64_t> k;
      for (const auto& p : problems) k.push_back(std::max<std::size_t>(1, p.size() * 4 / 5));
      RadixSelection selection(k, wide ? 63 : 31);
      mpi::CommReductions reductions(comm);
      while (!selection.done()) {
        for (std::size_t p = 0; p < problems.size(); ++p) {
          const RowRange mine = owned_rows(problems[p].size(), comm.rank(), comm.size());
          selection.count(p, std::span(problems[p]).subspan(mine.begin, mine.count()));
        }
        selection.finish_pass(reductions);
      }
      for (std::size_t p = 0; p < problems.size(); ++p) {
        auto sorted = problems[p];
        std::sort(sorted.begin(), sorted.end());
        const std::uint64_t kth = sorted[k[p] - 1];
        EXPECT_EQ(selection.kth_key(p), kth) << "problem " << p;
        EXPECT_EQ(selection.count_below(p), static_cast<std::uint64_t>(std::lower_bound(sorted.begin(), sorted.end(), kth) - sorted.begin()));
        EXPECT_EQ(selection.count_equal(p), static_cast<std::uint64_t>(std::count(sorted.begin(), sorted.end(), kth)));
      }
    }
  }
}

TEST(DistributedSampledSelection, EqualsSortingWhateverTheRanksSample) {
  const auto& comm = world();
  for (bool few_values : {false, true}) {
    const auto keys = global_keys(60000, 9, false, few_values);
    std::vector<std::uint64_t> k = {1, 30000, 48000, 60000};
    SampledSelection selection(k, std::vector<std::uint64_t>(k.size(), keys.size()), 31, 1 << 20);
    mpi::CommReductions reductions(comm);
    const RowRange mine = owned_rows(keys.size(), comm.rank(), comm.size());
    const auto local = std::span(keys).subspan(mine.begin, mine.count());
    std::vector<std::uint64_t> sample;  // every 97th of this rank's keys: depends on the split
    for (std::size_t i = 0; i < local.size(); i += 97) sample.push_back(local[i]);
    for (std::size_t p = 0; p < k.size(); ++p) selection.add_sample(p, sample);
    selection.finish_sample(reductions);
    for (std::size_t p = 0; p < k.size(); ++p) selection.count(p, local);
    selection.finish_count(reductions);
    auto sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t p = 0; p < k.size(); ++p) {
      ASSERT_FALSE(selection.failed(p)) << p;
      const std::uint64_t kth = sorted[k[p] - 1];
      EXPECT_EQ(selection.kth_key(p), kth);
      EXPECT_EQ(selection.count_below(p), static_cast<std::uint64_t>(std::lower_bound(sorted.begin(), sorted.end(), kth) - sorted.begin()));
      EXPECT_EQ(selection.count_equal(p), static_cast<std::uint64_t>(std::count(sorted.begin(), sorted.end(), kth)));
    }
  }
}

// Keys in order, so that the answer's neighbourhood lies on one rank: only that rank's refined
// rounds outgrow the memory and bin. The bins are sized alike on every rank (refine() sizes them
// from global counts), so the histograms sum and the selection narrows again to the exact answer.
TEST(DistributedSampledSelection, NarrowsAgainWhereOneRankOverflows) {
  const auto& comm = world();
  constexpr std::uint64_t n = 120000, k = 50000;  // on one rank of up to 4
  SampledSelection selection({k}, {n}, 31, 300);  // 1200 bytes: 300 candidates, or 150 bins
  mpi::CommReductions reductions(comm);
  const RowRange mine = owned_rows(n, comm.rank(), comm.size());
  std::vector<std::uint64_t> local(mine.count());
  for (std::uint64_t i = 0; i < local.size(); ++i) local[i] = mine.begin + i + 1;  // key k is the answer
  std::vector<std::uint64_t> sample;
  for (std::size_t i = 0; i < local.size(); i += 1000) sample.push_back(local[i]);
  selection.add_sample(0, sample);
  selection.finish_sample(reductions);
  int counts = 0;
  bool binned_here = false;
  do {
    selection.count(0, local);
    binned_here = binned_here || selection.binned_after_refine();
    selection.finish_count(reductions);
    ++counts;
  } while (selection.failed(0) && counts < 6 && selection.refine());
  ASSERT_FALSE(selection.failed(0));
  EXPECT_EQ(selection.kth_key(0), k);
  EXPECT_EQ(selection.count_below(0), k - 1);
  EXPECT_EQ(selection.count_equal(0), 1u);
  EXPECT_EQ(counts, 3);  // bins only, a refined round that binned, the answer
  const bool answer_here = mine.begin < k && k <= mine.end;
  EXPECT_EQ(binned_here, answer_here);
}

TEST(DistributedSelection, TrafficDoesNotGrowWithTheData) {
  const auto& comm = world();
  std::uint64_t traffic[2];
  for (int run = 0; run < 2; ++run) {
    const auto keys = global_keys(run == 0 ? 1000 : 200000, 5, false, false);
    const std::uint64_t before = comm.traffic().bytes;
    RadixSelection selection({keys.size() / 2}, 31);
    mpi::CommReductions reductions(comm);
    while (!selection.done()) {
      const RowRange mine = owned_rows(keys.size(), comm.rank(), comm.size());
      selection.count(0, std::span(keys).subspan(mine.begin, mine.count()));
      selection.finish_pass(reductions);
    }
    traffic[run] = comm.traffic().bytes - before;
  }
  EXPECT_EQ(traffic[0], traffic[1]);
}

}  // namespace
}  // namespace mpimerge
