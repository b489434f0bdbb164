// The 16-bit float conversions against the compiler's own _Float16 and against exact rounding.
#include "mpimerge/float_bits.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace mpimerge::bits {
namespace {

std::uint16_t compiler_f16_bits(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  std::uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

float compiler_f16_value(std::uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

bool same_float(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b) || (std::isnan(a) && std::isnan(b));
}

TEST(Float16, EveryHalfDecodesExactlyAndRoundTrips) {
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = f16_to_f32(h);
    ASSERT_TRUE(same_float(f, compiler_f16_value(h))) << std::hex << b;
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_f16(f), h) << std::hex << b;
    } else {
      ASSERT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
    }
  }
}

TEST(Float16, RoundsToNearestEvenLikeTheCompiler) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  for (int i = 0; i < 2'000'000; ++i) {
    const float f = std::bit_cast<float>(any_bits(rng));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), compiler_f16_bits(f)) << f;
  }
  // Midpoints between neighbouring halves, where ties-to-even decides, over the whole range.
  for (std::uint32_t b = 0; b < 0x7BFF; ++b) {
    const float lo = f16_to_f32(static_cast<std::uint16_t>(b)), hi = f16_to_f32(static_cast<std::uint16_t>(b + 1));
    const float mid = lo + (hi - lo) / 2;  // exact in float
    ASSERT_EQ(f32_to_f16(mid), compiler_f16_bits(mid)) << b;
    ASSERT_EQ(f32_to_f16(-mid), compiler_f16_bits(-mid)) << b;
  }
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // halfway above the largest half: rounds to infinity
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
}

TEST(BFloat16, IsTheUpperHalfOfAFloat) {
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = bf16_to_f32(h);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(f), b << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), h);
    }
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie, even below
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie, even above
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);  // above the tie
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F807FFFu)), 0x3F80);  // below the tie
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80);  // float max rounds to inf
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits only in the dropped bits must stay NaN, not become infinity.
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7F800001u)))));
}

// Nearest-even rounding of a double to bf16, by exact comparison with the two neighbours.
std::uint16_t exact_bf16(double d) {
  const float toward_zero_f = [&] {
    float f = static_cast<float>(d);
    if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
    return f;
  }();
  std::uint16_t lo = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(toward_zero_f) >> 16);
  const std::uint16_t hi = static_cast<std::uint16_t>(lo + 1);
  const double a = std::fabs(d) - std::fabs(static_cast<double>(bf16_to_f32(lo)));
  const double b = std::fabs(static_cast<double>(bf16_to_f32(hi))) - std::fabs(d);
  if (a < b) return lo;
  if (b < a) return hi;
  return (lo & 1) ? hi : lo;
}

TEST(RoundToOdd, DoubleToBFloat16HasNoDoubleRounding) {
  // 1 + 2^-8 + 2^-30 lies just above a bf16 midpoint; rounding through float loses the 2^-30.
  const double tricky = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  EXPECT_EQ(f32_to_bf16(static_cast<float>(tricky)), 0x3F80);        // naive: wrong
  EXPECT_EQ(f32_to_bf16(f64_to_f32_round_to_odd(tricky)), 0x3F81);   // round to odd: right
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> value(-4.0, 4.0);
  for (int i = 0; i < 1'000'000; ++i) {
    const double d = value(rng);
    ASSERT_EQ(f32_to_bf16(f64_to_f32_round_to_odd(d)), exact_bf16(d)) << d;
  }
}

TEST(MagnitudeKeys, OrderMagnitudes) {
  const float values[] = {0.0f, -0.0f, 1e-45f, -2e-45f, 1e-38f, 0.5f, -0.75f, 1.0f, 3e38f,
                          std::numeric_limits<float>::infinity()};
  for (float a : values)
    for (float b : values) {
      EXPECT_EQ(std::fabs(a) < std::fabs(b), magnitude_key(a) < magnitude_key(b)) << a << " " << b;
      EXPECT_EQ(magnitude_key(static_cast<double>(a)) < magnitude_key(static_cast<double>(b)),
                magnitude_key(a) < magnitude_key(b));
    }
  EXPECT_EQ(f32_from_magnitude_key(magnitude_key(-0.25f)), 0.25f);
  EXPECT_EQ(f64_from_magnitude_key(magnitude_key(-0.25)), 0.25);
}

}  // namespace
}  // namespace mpimerge::bits
