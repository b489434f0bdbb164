#include "mpimerge/tensor.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

namespace mpimerge {

std::uint64_t TensorInfo::elements() const {
  return std::accumulate(shape.begin(), shape.end(), std::uint64_t{1}, std::multiplies<>());
}

std::uint64_t TensorInfo::rows() const { return shape.empty() ? 1 : shape[0]; }

std::uint64_t TensorInfo::row_elements() const {
  if (shape.empty()) return 1;
  return std::accumulate(shape.begin() + 1, shape.end(), std::uint64_t{1}, std::multiplies<>());
}

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

RowRange owned_rows(std::uint64_t rows, int rank, int ranks) {
  const auto p = static_cast<std::uint64_t>(ranks);
  const auto r = static_cast<std::uint64_t>(rank);
  const std::uint64_t base = rows / p, extra = rows % p;
  const std::uint64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace mpimerge
