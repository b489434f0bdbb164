#include "mpimerge/methods/method.hpp"

#include <algorithm>

namespace mpimerge {

std::uint64_t MergeShape::total_elements() const {
  std::uint64_t total = 0;
  for (const auto& t : tensors) total += t.elements;
  return total;
}

bool MergeShape::any_float64() const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [](const MergedTensor& t) { return t.compute == ComputeType::f64; });
}

}  // namespace mpimerge
