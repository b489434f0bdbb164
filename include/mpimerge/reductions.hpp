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
  virtual void max(std::span<double> values) = 0;
  virtual void min(std::span<double> values) = 0;
};

// One process holds all the data: every reduction is the identity.
class LocalReductions final : public Reductions {
 public:
  void sum(std::span<std::int64_t>) override {}
  void max(std::span<double>) override {}
  void min(std::span<double>) override {}
};

}  // namespace mpimerge
