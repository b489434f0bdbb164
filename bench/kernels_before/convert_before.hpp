#pragma once
// FROZEN COPY, for bench/ties_kernels_bench.cpp only: src/convert.cpp's decode and
// RadixSelection's counting loop as they were before issue 15 (at 23325b5), so that the benchmark
// times the old and the new code in the same run. Not used by the program.
#include <cstdint>
#include <cstring>
#include <span>

#include "mpimerge/dtype.hpp"
#include "mpimerge/float_bits.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge::before {

template <class Raw>
Raw load(const std::uint8_t* p) {
  Raw v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
MPIMERGE_VECTOR_CLONES void decode(DType dtype, std::span<const std::uint8_t> raw, std::span<T> out) {
  const std::uint8_t* p = raw.data();
  const std::size_t n = out.size();
  switch (dtype) {
    case DType::f32:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(load<float>(p + 4 * i));
      return;
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(bits::bf16_to_f32(load<std::uint16_t>(p + 2 * i)));
      return;
    case DType::f16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(bits::f16_to_f32(load<std::uint16_t>(p + 2 * i)));
      return;
    default: return;
  }
}

// RadixSelection::count_keys's first pass: one histogram, one increment per key.
template <class Key>
void radix_count(std::span<std::int64_t> bins, std::span<const Key> keys, unsigned low, std::uint64_t mask) {
  for (const std::uint64_t key : keys) ++bins[(key >> low) & mask];
}

}  // namespace mpimerge::before
