#include "mpimerge/methods/sparsify.hpp"

#include <cmath>

namespace mpimerge::sparsify {
namespace {

// Python's int(x * n) for x >= 0: the double product, truncated.
std::uint64_t share_of(double x, std::uint64_t n) {
  return std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::floor(x * static_cast<double>(n))));
}

}  // namespace

Band magnitude_band(std::uint64_t n, double density) {
  if (density >= 1.0) return {0, n};
  return {0, share_of(density, n)};
}

Band outlier_band(std::uint64_t n, double density, double gamma) {
  if (density >= 1.0) return {0, n};
  const auto target = static_cast<std::int64_t>(share_of(density, n));
  auto top = static_cast<std::int64_t>(share_of(gamma, n));
  auto bottom = static_cast<std::int64_t>(n) - target - top;
  if (bottom < 0) {  // mergekit: drop fewer of the largest to reach the target density
    top += bottom;
    bottom = 0;
  }
  return {static_cast<std::uint64_t>(top), n - static_cast<std::uint64_t>(bottom)};
}

}  // namespace mpimerge::sparsify
