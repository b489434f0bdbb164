#pragma once
// Conversion between raw little-endian tensor bytes and the compute types, one tight loop per
// dtype. Raw buffers need no alignment.
#include <cstdint>
#include <span>

#include "mpimerge/dtype.hpp"

namespace mpimerge {

// out[i] = element i of raw (of a float dtype), exactly.
template <class T>
void decode(DType dtype, std::span<const std::uint8_t> raw, std::span<T> out);

// raw element i = out_dtype(in[i]), rounding to nearest even for narrower types.
template <class T>
void encode(std::span<const T> in, DType dtype, std::span<std::uint8_t> raw);

// Number of NaN and infinite elements in raw (0 for non-float dtypes).
std::uint64_t count_nonfinite(DType dtype, std::span<const std::uint8_t> raw);
// Index of the first NaN or infinite element in raw (its element count if there is none).
std::uint64_t first_nonfinite(DType dtype, std::span<const std::uint8_t> raw);

}  // namespace mpimerge
