#pragma once
// Reusable per-block buffers for methods, so a block costs no allocation: N task-sized arrays and
// a few named extras, in float and double.
#include <cstdint>
#include <span>
#include <vector>

namespace mpimerge {

template <class T>
class BlockScratch {
 public:
  // n arrays of `size` elements each (contents unspecified).
  std::span<const std::span<T>> arrays(std::size_t n, std::size_t size) {
    if (storage_.size() < n * size) storage_.resize(n * size);
    spans_.resize(n);
    for (std::size_t t = 0; t < n; ++t) spans_[t] = std::span<T>(storage_.data() + t * size, size);
    return spans_;
  }
  std::span<T> extra(std::size_t size) {
    if (extra_.size() < size) extra_.resize(size);
    return std::span<T>(extra_.data(), size);
  }

 private:
  std::vector<T> storage_, extra_;
  std::vector<std::span<T>> spans_;
};

struct MethodScratch {
  BlockScratch<float> f32;
  BlockScratch<double> f64;
  std::vector<std::uint64_t> keys;

  template <class T>
  BlockScratch<T>& of() {
    if constexpr (sizeof(T) == 8) return f64; else return f32;
  }
  std::span<std::uint64_t> key_buffer(std::size_t size) {
    if (keys.size() < size) keys.resize(size);
    return std::span<std::uint64_t>(keys.data(), size);
  }
};

}  // namespace mpimerge
