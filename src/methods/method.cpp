#include "mpimerge/methods/method.hpp"

#include <algorithm>

#include "mpimerge/error.hpp"

namespace mpimerge {

std::uint64_t MergeShape::total_elements() const {
  std::uint64_t total = 0;
  for (const auto& t : tensors) total += t.elements;
  return total;
}

std::uint64_t MergedTensor::row_elements() const {
  std::uint64_t n = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) n *= shape[d];
  return n;
}

bool MergeShape::any_float64() const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [](const MergedTensor& t) { return t.compute == ComputeType::f64; });
}

void MergeMethod::merge_whole(const Block<float>& whole, std::span<float>) {
  throw Error(std::string(name()) + " merges tensor " + std::to_string(whole.tensor) + " by blocks, not whole");
}

void MergeMethod::merge_whole(const Block<double>& whole, std::span<double>) {
  throw Error(std::string(name()) + " merges tensor " + std::to_string(whole.tensor) + " by blocks, not whole");
}

}  // namespace mpimerge
