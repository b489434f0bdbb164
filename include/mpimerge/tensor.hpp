#pragma once
// What a checkpoint says about one tensor, and which of its rows a rank owns.
#include <cstdint>
#include <string>
#include <vector>

#include "mpimerge/dtype.hpp"

namespace mpimerge {

struct TensorInfo {
  std::string name;                  // "model.layers.0.mlp.down_proj.weight"
  DType dtype = DType::f32;
  std::vector<std::uint64_t> shape;  // empty for a 0-d scalar

  // Inline: the engine asks for these a few times per tensor per pass (100k tensors).
  std::uint64_t elements() const { return rows() * row_elements(); }
  // Dimension 0 is split across ranks; a 0-d scalar counts as one row of one element.
  std::uint64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  std::uint64_t row_elements() const {
    std::uint64_t n = 1;
    for (std::size_t d = 1; d < shape.size(); ++d) n *= shape[d];
    return n;
  }
  std::uint64_t bytes() const { return elements() * dtype_size(dtype); }
  bool operator==(const TensorInfo&) const = default;
};

std::string shape_string(const std::vector<std::uint64_t>& shape);  // "[4096, 11008]"

// Rows [begin, end) of a tensor. Balanced: the first rows % ranks ranks own one row more, so a
// tensor with fewer rows than ranks leaves the last ranks an empty slice.
struct RowRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t count() const { return end - begin; }
  bool empty() const { return end == begin; }
};

RowRange owned_rows(std::uint64_t rows, int rank, int ranks);

}  // namespace mpimerge
