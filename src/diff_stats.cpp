#include "mpimerge/diff_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace mpimerge {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

void DiffAccumulator::add(std::span<const double> a, std::span<const double> b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    ++elements_;
    if (std::memcmp(&x, &y, sizeof x) == 0) {  // the same value, NaN included
      if (std::isfinite(x)) {
        sum_sq_a_ += x * x;
        sum_sq_b_ += y * y;
        dot_ += x * y;
      }
      continue;
    }
    if (x == y) {  // +0 and -0: equal values, different bits
      ++differing_;
      continue;
    }
    ++differing_;
    const double d = std::fabs(x - y);
    max_abs_ = std::max(max_abs_, std::isnan(d) ? kInf : d);
    sum_sq_diff_ += std::isfinite(d) ? d * d : kInf;
    sum_sq_a_ += x * x;
    sum_sq_b_ += y * y;
    dot_ += x * y;
  }
}

void DiffAccumulator::add_raw(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b,
                              std::size_t element_size) {
  for (std::size_t offset = 0; offset + element_size <= a.size(); offset += element_size) {
    ++elements_;
    if (std::memcmp(a.data() + offset, b.data() + offset, element_size) != 0) {
      ++differing_;
      max_abs_ = kInf;  // values that are not numbers we compare: any change is too large
    }
  }
}

DiffAccumulator DiffAccumulator::from_parts(const std::array<double, 4>& sums,
                                            const std::array<std::int64_t, 2>& counts, double max_abs) {
  DiffAccumulator d;
  d.sum_sq_diff_ = sums[0];
  d.sum_sq_a_ = sums[1];
  d.sum_sq_b_ = sums[2];
  d.dot_ = sums[3];
  d.elements_ = static_cast<std::uint64_t>(counts[0]);
  d.differing_ = static_cast<std::uint64_t>(counts[1]);
  d.max_abs_ = max_abs;
  return d;
}

void DiffAccumulator::combine(const DiffAccumulator& other) {
  max_abs_ = std::max(max_abs_, other.max_abs_);
  sum_sq_diff_ += other.sum_sq_diff_;
  sum_sq_a_ += other.sum_sq_a_;
  sum_sq_b_ += other.sum_sq_b_;
  dot_ += other.dot_;
  elements_ += other.elements_;
  differing_ += other.differing_;
}

TensorDifference DiffAccumulator::finish() const {
  TensorDifference r;
  r.max_abs = max_abs_;
  r.elements = elements_;
  r.differing = differing_;
  const double diff = std::sqrt(sum_sq_diff_), norm_a = std::sqrt(sum_sq_a_), norm_b = std::sqrt(sum_sq_b_);
  r.relative_l2 = diff == 0 ? 0 : (norm_b == 0 ? kInf : diff / norm_b);
  if (norm_a == 0 && norm_b == 0) r.cosine = 1;
  else if (norm_a == 0 || norm_b == 0) r.cosine = 0;
  else r.cosine = dot_ / (norm_a * norm_b);
  return r;
}

}  // namespace mpimerge
