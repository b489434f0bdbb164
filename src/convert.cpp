#include "mpimerge/convert.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "mpimerge/error.hpp"
#include "mpimerge/float_bits.hpp"
#include "mpimerge/util/vector_clones.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MPIMERGE_HAVE_F16C_PATH 1
#endif

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

namespace {

#ifdef MPIMERGE_HAVE_F16C_PATH
// binary16 <-> binary32 with the F16C instructions, eight at a time, where the CPU has them
// (checked once at run time: a binary built for the x86-64 baseline still uses them). They round
// as the scalar functions of float_bits.hpp do (to nearest, ties to even) and agree with them bit
// for bit on every value but NaN, whose quieting differs; NaN lanes are therefore rebuilt exactly
// as the scalar functions build them (tests/unit/convert_test.cpp checks every half and a sweep
// of floats). The tails shorter than eight go through the scalar functions.
bool cpu_has_f16c() {
  static const bool has = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
  return has;
}

__attribute__((target("avx2,f16c"))) std::size_t f16_to_f32_f16c(const std::uint8_t* p, std::size_t n, float* out) {
  const __m256i exponent = _mm256_set1_epi32(0x7C00);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    const __m256 f = _mm256_cvtph_ps(h);
    const __m256i h32 = _mm256_cvtepu16_epi32(h);
    const __m256i nan_or_inf = _mm256_cmpeq_epi32(_mm256_and_si256(h32, exponent), exponent);
    // sign | all-ones exponent | mantissa << 13, as bits::f16_to_f32 (no quieting)
    const __m256i exact = _mm256_or_si256(
        _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(h32, _mm256_set1_epi32(0x8000)), 16),
                        _mm256_set1_epi32(0x7F800000)),
        _mm256_slli_epi32(_mm256_and_si256(h32, _mm256_set1_epi32(0x3FF)), 13));
    _mm256_storeu_ps(out + i, _mm256_blendv_ps(f, _mm256_castsi256_ps(exact), _mm256_castsi256_ps(nan_or_inf)));
  }
  return i;
}

__attribute__((target("avx2,f16c"))) std::size_t f32_to_f16_f16c(const float* in, std::size_t n, std::uint8_t* p) {
  const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i infinity = _mm256_set1_epi32(0x7F800000);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_loadu_ps(in + i);
    const __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i u = _mm256_castps_si256(f);
    const __m256i a = _mm256_and_si256(u, magnitude);
    const __m256i nan = _mm256_cmpgt_epi32(a, infinity);
    // sign | 0x7E00 | (a >> 13) & 0x3FF, as bits::f32_to_f16
    const __m256i exact = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)), _mm256_set1_epi32(0x7E00)),
        _mm256_and_si256(_mm256_srli_epi32(a, 13), _mm256_set1_epi32(0x3FF)));
    // Narrow the 32-bit lanes of `exact` and of the mask to 16 bits (values fit: no saturation).
    const __m128i exact16 = _mm_packus_epi32(_mm256_castsi256_si128(exact), _mm256_extracti128_si256(exact, 1));
    const __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan), _mm256_extracti128_si256(nan, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 2 * i), _mm_blendv_epi8(h, exact16, nan16));
  }
  return i;
}
#endif

// float16 -> T; through F16C where the CPU has it.
template <class T>
void decode_f16(const std::uint8_t* p, std::size_t n, T* out) {
  std::size_t i = 0;
#ifdef MPIMERGE_HAVE_F16C_PATH
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_has_f16c()) i = f16_to_f32_f16c(p, n, out);
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<T>(bits::f16_to_f32(load<std::uint16_t>(p + 2 * i)));
}

// float -> float16; through F16C where the CPU has it. T = double rounds to odd first (narrow).
template <class T>
void encode_f16(const T* in, std::size_t n, std::uint8_t* p) {
  std::size_t i = 0;
#ifdef MPIMERGE_HAVE_F16C_PATH
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_has_f16c()) i = f32_to_f16_f16c(in, n, p);
  }
#endif
  for (; i < n; ++i) store(p + 2 * i, bits::f32_to_f16(narrow(in[i])));
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
    case DType::f16: decode_f16<T>(p, n, out.data()); return;
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
    case DType::f16: encode_f16<T>(in.data(), n, p); return;
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
    case DType::f16:  // converted eight at a time where F16C is at hand, then counted in a second sweep
      encode_f16<T>(in.data(), in.size(), p);
      return count_nonfinite(DType::f16, raw.first(2 * in.size()));
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
