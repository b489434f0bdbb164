#pragma once
// Bit-level conversions between float32 and the 16-bit float formats, inline so that the block
// conversion loops vectorise (no per-element library calls), and the magnitude keys that order
// |x| as unsigned integers for radix selection.
#include <bit>
#include <cstdint>

namespace mpimerge::bits {

inline float bf16_to_f32(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

// Round to nearest, ties to even; NaN stays a (quiet) NaN with its sign.
inline std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  const std::uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

// IEEE binary16 -> binary32, exact (every half is a float). Branch-free apart from selects.
inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t rest = static_cast<std::uint32_t>(h & 0x7FFFu) << 13;  // exponent+mantissa
  // Rebias the exponent (15 -> 127) by scaling with 2^112; handles normals and subnormals alike.
  const float magic = std::bit_cast<float>(0x77800000u);  // 2^112
  float scaled = std::bit_cast<float>(rest) * magic;
  // Inf/NaN: exponent field all ones in the half; keep all ones in the float.
  const std::uint32_t inf_nan = (h & 0x7C00u) == 0x7C00u ? (0x7F800000u | rest) : 0u;
  const std::uint32_t out = inf_nan ? inf_nan : std::bit_cast<std::uint32_t>(scaled);
  return std::bit_cast<float>(sign | out);
}

// IEEE binary32 -> binary16, round to nearest, ties to even; overflow to inf; NaN stays NaN.
inline std::uint16_t f32_to_f16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x47800000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65536: inf
  if (a < 0x38800000u) {
    // Result is subnormal (or zero): adding 0.5 (2^-1) aligns the half's subnormal grid with the
    // float's last mantissa bits, so the FPU's own round-to-nearest-even does the rounding.
    const float shifted = std::bit_cast<float>(a) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3F000000u));
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
  const std::uint32_t odd = (a >> 13) & 1u;
  const std::uint32_t r = a + 0xC8000FFFu + odd;  // (-112 << 23) + 0xFFF + odd
  return static_cast<std::uint16_t>(sign | (r >> 13));
}

// double -> float rounding to odd: inexact results get their last bit set. Rounding that float
// to a 16-bit format (nearest even) then equals rounding the double directly (the float keeps more
// than two extra bits), so float64 -> bf16/f16 has no double-rounding error.
inline float f64_to_f32_round_to_odd(double d) {
  float f = static_cast<float>(d);
  if (d != d || static_cast<double>(f) == d) return f;
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const double af = static_cast<double>(f) < 0 ? -static_cast<double>(f) : static_cast<double>(f);
  const double ad = d < 0 ? -d : d;
  if (af > ad) --u;  // rounded away from zero: step back toward zero first
  return std::bit_cast<float>(u | 1u);
}

// Keys that order magnitudes: for finite x and y, |x| < |y| exactly when key(x) < key(y).
// NaN keys sort above infinity, so callers refuse or filter NaN before selecting.
inline std::uint64_t magnitude_key(float x) { return std::bit_cast<std::uint32_t>(x) & 0x7FFFFFFFu; }
inline std::uint64_t magnitude_key(double x) {
  return std::bit_cast<std::uint64_t>(x) & 0x7FFFFFFFFFFFFFFFull;
}
// Keys that order signed values, for selecting order statistics of values that may be negative
// (arcee_fusion's quantiles): for finite x and y, x < y exactly when ordered_key(x) <
// ordered_key(y); -0 and +0 get the key of +0. 32 bits for float32, 64 for float64.
inline std::uint64_t ordered_key(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x == 0.0f ? 0.0f : x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline std::uint64_t ordered_key(double x) {
  const std::uint64_t u = std::bit_cast<std::uint64_t>(x == 0.0 ? 0.0 : x);
  return (u >> 63) ? ~u : (u | (std::uint64_t{1} << 63));
}
inline float f32_from_ordered_key(std::uint64_t key) {
  const auto k = static_cast<std::uint32_t>(key);
  return std::bit_cast<float>((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}
inline double f64_from_ordered_key(std::uint64_t key) {
  return std::bit_cast<double>((key >> 63) ? (key & ~(std::uint64_t{1} << 63)) : ~key);
}

inline float f32_from_magnitude_key(std::uint64_t key) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(key));
}
inline double f64_from_magnitude_key(std::uint64_t key) { return std::bit_cast<double>(key); }

}  // namespace mpimerge::bits
