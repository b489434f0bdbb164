#pragma once
// The few global numbers a merge method needs from all ranks pass through this interface, so a
// method never sees MPI: with LocalReductions the same code runs in a one-process unit test.
// Element-wise, in place, over every rank's span of the same length.
#include <cstdint>
#include <span>

namespace mpimerge {

class Reductions {
 public:
  virtual ~Reductions() = default;
  // Exact integer sums: histograms and counts, whose result must not depend on the rank count.
  virtual void sum(std::span<std::int64_t> values) = 0;
  // Exclusive prefix sum over ranks in rank order: rank r receives the sum of ranks 0..r-1 (rank 0
  // receives zeros). Ranks own contiguous rows in rank order, so this counts what lies at lower
  // indices of a tensor: the tie-break by index of keep-exactly-k selection needs it.
  virtual void exclusive_prefix_sum(std::span<std::int64_t> values) = 0;
  virtual void max(std::span<double> values) = 0;
  virtual void min(std::span<double> values) = 0;
};

// One process holds all the data: every reduction is the identity.
class LocalReductions final : public Reductions {
 public:
  void sum(std::span<std::int64_t>) override {}
  void exclusive_prefix_sum(std::span<std::int64_t> values) override {
    for (auto& v : values) v = 0;
  }
  void max(std::span<double>) override {}
  void min(std::span<double>) override {}
};

}  // namespace mpimerge
