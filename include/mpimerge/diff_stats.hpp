#pragma once
// How far apart two tensors are, accumulated over slices: pure arithmetic, no MPI and no files, so
// that a rank accumulates its rows, the sums and maxima are combined across ranks, and finish()
// gives every rank the same numbers. Used by `mpimerge diff`.
#include <array>
#include <cstdint>
#include <span>

namespace mpimerge {

struct TensorDifference {
  double max_abs = 0;     // max |a - b|; +inf where one side is NaN or infinite and the other differs
  double relative_l2 = 0; // ||a - b||_2 / ||b||_2 (0 when both are 0, +inf when only b is)
  double cosine = 1;      // a.b / (||a|| ||b||); 1 when both are 0, 0 when only one is
  std::uint64_t elements = 0;
  std::uint64_t differing = 0;  // elements whose values differ (bit patterns, for non-floats)
};

class DiffAccumulator {
 public:
  // Element-wise: a[i] against b[i] (same length), values already widened to double.
  void add(std::span<const double> a, std::span<const double> b);
  // Non-float tensors: element-wise byte comparison of equal-size elements.
  void add_raw(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b, std::size_t element_size);

  // What ranks combine: sums (added) and maxima (maxed); from_parts rebuilds the combined state.
  std::array<double, 4> sums() const { return {sum_sq_diff_, sum_sq_a_, sum_sq_b_, dot_}; }
  std::array<std::int64_t, 2> counts() const {
    return {static_cast<std::int64_t>(elements_), static_cast<std::int64_t>(differing_)};
  }
  double max_abs() const { return max_abs_; }
  static DiffAccumulator from_parts(const std::array<double, 4>& sums, const std::array<std::int64_t, 2>& counts,
                                    double max_abs);
  // One process's stand-in for the reductions: adds another slice's accumulator to this one.
  void combine(const DiffAccumulator& other);

  TensorDifference finish() const;

 private:
  double max_abs_ = 0, sum_sq_diff_ = 0, sum_sq_a_ = 0, sum_sq_b_ = 0, dot_ = 0;
  std::uint64_t elements_ = 0, differing_ = 0;
};

}  // namespace mpimerge
