#include "mpimerge/convert.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "mpimerge/error.hpp"
#include "mpimerge/float_bits.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {
namespace {

template <class Raw>
Raw load(const std::uint8_t* p) {
  Raw v;
  std::memcpy(&v, p, sizeof v);  // unaligned-safe; compiles to a plain load
  return v;
}

template <class Raw>
void store(std::uint8_t* p, Raw v) {
  std::memcpy(p, &v, sizeof v);
}

// The float that a 16-bit encoder rounds from: the value itself, or a double rounded to odd.
inline float narrow(float x) { return x; }
inline float narrow(double x) { return bits::f64_to_f32_round_to_odd(x); }

[[noreturn]] void not_float(DType dtype) {
  throw Error("internal: cannot convert " + std::string(dtype_name(dtype)) + " elements to a float");
}

}  // namespace

template <class T>
MPIMERGE_VECTOR_CLONES void decode(DType dtype, std::span<const std::uint8_t> raw, std::span<T> out) {
  const std::uint8_t* p = raw.data();
  const std::size_t n = out.size();
  switch (dtype) {
    case DType::f32:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(load<float>(p + 4 * i));
      return;
    case DType::f64:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(load<double>(p + 8 * i));
      return;
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(bits::bf16_to_f32(load<std::uint16_t>(p + 2 * i)));
      return;
    case DType::f16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(bits::f16_to_f32(load<std::uint16_t>(p + 2 * i)));
      return;
    default: not_float(dtype);
  }
}

template <class T>
MPIMERGE_VECTOR_CLONES void encode(std::span<const T> in, DType dtype, std::span<std::uint8_t> raw) {
  std::uint8_t* p = raw.data();
  const std::size_t n = in.size();
  switch (dtype) {
    case DType::f32:
      for (std::size_t i = 0; i < n; ++i) store(p + 4 * i, static_cast<float>(in[i]));
      return;
    case DType::f64:
      for (std::size_t i = 0; i < n; ++i) store(p + 8 * i, static_cast<double>(in[i]));
      return;
    case DType::bf16:
      for (std::size_t i = 0; i < n; ++i) store(p + 2 * i, bits::f32_to_bf16(narrow(in[i])));
      return;
    case DType::f16:
      for (std::size_t i = 0; i < n; ++i) store(p + 2 * i, bits::f32_to_f16(narrow(in[i])));
      return;
    default: not_float(dtype);
  }
}

namespace {

// Stores each converted element and counts those whose exponent bits are all ones (NaN or
// infinity). The counter is as wide as the elements and emptied into the total every chunk (see
// count_all_set below), so that the loop vectorises at the elements' width.
template <class Raw, class T, class Convert>
std::uint64_t store_counting(std::span<const T> in, std::uint8_t* p, Raw mask, Convert convert) {
  constexpr std::size_t kChunk = sizeof(Raw) == 2 ? 0xFFFF : 0x7FFFFFFF;
  const std::size_t n = in.size();
  std::uint64_t total = 0;
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t end = std::min(n, at + kChunk);
    Raw count = 0;
    for (std::size_t i = at; i < end; ++i) {
      const Raw bits = convert(in[i]);
      store(p + sizeof(Raw) * i, bits);
      count += static_cast<Raw>((bits & mask) == mask);
    }
    total += count;
  }
  return total;
}

}  // namespace

template <class T>
MPIMERGE_VECTOR_CLONES std::uint64_t encode_counting_nonfinite(std::span<const T> in, DType dtype, std::span<std::uint8_t> raw) {
  std::uint8_t* p = raw.data();
  switch (dtype) {
    case DType::f32:
      return store_counting<std::uint32_t>(in, p, 0x7F800000u,
                                           [](T v) { return std::bit_cast<std::uint32_t>(static_cast<float>(v)); });
    case DType::f64:
      return store_counting<std::uint64_t>(in, p, 0x7FF0000000000000ull,
                                           [](T v) { return std::bit_cast<std::uint64_t>(static_cast<double>(v)); });
    case DType::bf16:
      return store_counting<std::uint16_t>(in, p, std::uint16_t{0x7F80}, [](T v) { return bits::f32_to_bf16(narrow(v)); });
    case DType::f16:
      return store_counting<std::uint16_t>(in, p, std::uint16_t{0x7C00}, [](T v) { return bits::f32_to_f16(narrow(v)); });
    default: not_float(dtype);
  }
}

template <class T>
std::uint64_t count_nonfinite_values(std::span<const T> values) {
  std::uint64_t count = 0;
  for (const T v : values) count += std::isfinite(v) ? 0 : 1;
  return count;
}

namespace {

// Elements whose bits under mask are all set (exponent all ones: NaN or infinity). The counter is
// as wide as the elements and emptied into the total every chunk, before it could wrap: a 64-bit
// counter over 16-bit lanes would keep the loop from vectorising at full width.
template <class Raw>
MPIMERGE_VECTOR_CLONES std::uint64_t count_all_set(const std::uint8_t* p, std::size_t n, Raw mask) {
  constexpr std::size_t kChunk = sizeof(Raw) == 2 ? 0xFFFF : 0x7FFFFFFF;
  std::uint64_t total = 0;
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t end = std::min(n, at + kChunk);
    Raw count = 0;
    for (std::size_t i = at; i < end; ++i) count += static_cast<Raw>((load<Raw>(p + sizeof(Raw) * i) & mask) == mask);
    total += count;
  }
  return total;
}

}  // namespace

std::uint64_t count_nonfinite(DType dtype, std::span<const std::uint8_t> raw) {
  const std::uint8_t* p = raw.data();
  switch (dtype) {
    case DType::f32: return count_all_set<std::uint32_t>(p, raw.size() / 4, 0x7F800000u);
    case DType::f64: return count_all_set<std::uint64_t>(p, raw.size() / 8, 0x7FF0000000000000ull);
    case DType::bf16: return count_all_set<std::uint16_t>(p, raw.size() / 2, 0x7F80u);
    case DType::f16: return count_all_set<std::uint16_t>(p, raw.size() / 2, 0x7C00u);
    default: return 0;
  }
}

std::uint64_t first_nonfinite(DType dtype, std::span<const std::uint8_t> raw) {
  if (!is_float(dtype)) return raw.size();
  const std::size_t size = dtype_size(dtype);
  for (std::size_t i = 0; i < raw.size() / size; ++i)
    if (count_nonfinite(dtype, raw.subspan(i * size, size))) return i;
  return raw.size() / size;
}

template void decode<float>(DType, std::span<const std::uint8_t>, std::span<float>);
template void decode<double>(DType, std::span<const std::uint8_t>, std::span<double>);
template void encode<float>(std::span<const float>, DType, std::span<std::uint8_t>);
template void encode<double>(std::span<const double>, DType, std::span<std::uint8_t>);
template std::uint64_t encode_counting_nonfinite<float>(std::span<const float>, DType, std::span<std::uint8_t>);
template std::uint64_t encode_counting_nonfinite<double>(std::span<const double>, DType, std::span<std::uint8_t>);
template std::uint64_t count_nonfinite_values<float>(std::span<const float>);
template std::uint64_t count_nonfinite_values<double>(std::span<const double>);

}  // namespace mpimerge
