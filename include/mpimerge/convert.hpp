#pragma once
// Conversion between raw little-endian tensor bytes and the compute types, one tight loop per
// dtype. Raw buffers need no alignment.
#include <bit>
#include <cstdint>
#include <optional>
#include <span>

#include "mpimerge/dtype.hpp"

namespace mpimerge {

// out[i] = element i of raw (of a float dtype), exactly.
template <class T>
void decode(DType dtype, std::span<const std::uint8_t> raw, std::span<T> out);

// raw as T itself, without a copy, when its bytes already are T's as this machine reads them
// (float32 computed in float, float64 in double, a little-endian host, raw aligned for T): what
// decode would write, bit for bit. Empty otherwise (decode then).
template <class T>
std::optional<std::span<const T>> view_as(DType dtype, std::span<const std::uint8_t> raw) {
  constexpr DType same = sizeof(T) == 4 ? DType::f32 : DType::f64;
  if (std::endian::native != std::endian::little || dtype != same ||
      reinterpret_cast<std::uintptr_t>(raw.data()) % alignof(T) != 0)
    return std::nullopt;
  return std::span<const T>(reinterpret_cast<const T*>(raw.data()), raw.size() / sizeof(T));
}

// raw element i = out_dtype(in[i]), rounding to nearest even for narrower types.
template <class T>
void encode(std::span<const T> in, DType dtype, std::span<std::uint8_t> raw);

// encode, returning how many of the written elements are NaN or infinite: a value beyond the
// dtype's range rounds to infinity. The count comes from the same loop (one more compare per
// element), so that every merged value can be checked at no extra pass.
template <class T>
std::uint64_t encode_counting_nonfinite(std::span<const T> in, DType dtype, std::span<std::uint8_t> raw);

// Number of NaN and infinite values (0 when all are finite).
template <class T>
std::uint64_t count_nonfinite_values(std::span<const T> values);

// Number of NaN and infinite elements in raw (0 for non-float dtypes).
std::uint64_t count_nonfinite(DType dtype, std::span<const std::uint8_t> raw);
// Index of the first NaN or infinite element in raw (its element count if there is none).
std::uint64_t first_nonfinite(DType dtype, std::span<const std::uint8_t> raw);

}  // namespace mpimerge
