// Raw bytes <-> compute types, for every float dtype, and the finiteness scan.
#include "mpimerge/convert.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "mpimerge/float_bits.hpp"

namespace mpimerge {
namespace {

TEST(Convert, RoundTripsRepresentableValuesInEveryFloatDtype) {
  const std::vector<double> values = {0.0, -0.0, 1.0, -2.5, 0.0078125, 65504.0, -1.0 / 1024};
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    std::vector<std::uint8_t> raw(values.size() * dtype_size(dtype));
    encode<double>(values, dtype, raw);
    std::vector<double> back(values.size());
    decode<double>(dtype, raw, back);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (dtype == DType::bf16 && values[i] == 65504.0) continue;  // not a bf16 value
      EXPECT_EQ(back[i], values[i]) << dtype_name(dtype) << " " << values[i];
      EXPECT_EQ(std::signbit(back[i]), std::signbit(values[i]));
    }
  }
}

TEST(Convert, Float32ToBFloat16RoundsToNearestEven) {
  const std::vector<float> in = {1.00390625f /* 1 + 2^-8: tie, to even 1.0 */, 1.01171875f /* tie, to 1.015625 */};
  std::vector<std::uint8_t> raw(4);
  encode<float>(in, DType::bf16, raw);
  std::vector<float> out(2);
  decode<float>(DType::bf16, raw, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 1.015625f);
}

// decode and encode of float16 go eight at a time through F16C where the CPU has it: the bits must
// be those of the scalar conversions (float_bits.hpp) for every half, signalling NaNs included, and
// for floats from all over the range (every 251st bit pattern, and each half's rounding boundaries).
TEST(Convert, Float16BlocksGiveTheScalarConversionsBits) {
  std::vector<std::uint16_t> halves(65536 + 5);  // a tail shorter than eight, for the scalar path
  for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<std::uint16_t>(i * 40503u);
  for (std::uint32_t h = 0; h < 65536; ++h) halves[h] = static_cast<std::uint16_t>(h);
  std::vector<std::uint8_t> raw(2 * halves.size());
  std::memcpy(raw.data(), halves.data(), raw.size());
  std::vector<float> floats(halves.size());
  decode<float>(DType::f16, raw, floats);
  for (std::size_t i = 0; i < halves.size(); ++i)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(floats[i]), std::bit_cast<std::uint32_t>(bits::f16_to_f32(halves[i])))
        << "half 0x" << std::hex << halves[i];

  std::vector<float> in;
  for (std::uint64_t u = 0; u < (std::uint64_t{1} << 32); u += 251) in.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  for (std::uint32_t h = 0; h < 0x7C00; ++h) {  // around the midpoints between neighbouring halves
    const std::uint32_t mid = std::bit_cast<std::uint32_t>((bits::f16_to_f32(static_cast<std::uint16_t>(h)) +
                                                            bits::f16_to_f32(static_cast<std::uint16_t>(h + 1))) / 2);
    for (std::uint32_t d : {mid - 1, mid, mid + 1}) {
      in.push_back(std::bit_cast<float>(d));
      in.push_back(-std::bit_cast<float>(d));
    }
  }
  in.push_back(65520.0f);  // the first float that rounds to infinity
  std::vector<std::uint8_t> out(2 * in.size());
  encode<float>(in, DType::f16, out);
  std::vector<std::uint8_t> counted(2 * in.size());
  std::uint64_t nonfinite = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::uint16_t got;
    std::memcpy(&got, out.data() + 2 * i, 2);
    const std::uint16_t want = bits::f32_to_f16(in[i]);
    ASSERT_EQ(got, want) << "float 0x" << std::hex << std::bit_cast<std::uint32_t>(in[i]);
    nonfinite += (want & 0x7C00u) == 0x7C00u;
  }
  EXPECT_EQ(encode_counting_nonfinite<float>(in, DType::f16, counted), nonfinite);
  EXPECT_EQ(counted, out);
}

// The engine reads float32 inputs computed in float (and float64 in double) in place, without a
// copy: what decode would write, bit for bit, or nothing where decode must run.
TEST(Convert, ViewsBytesThatAlreadyAreTheComputeTypeInPlace) {
  const std::vector<float> values = {1.5f, -0.0f, std::numeric_limits<float>::quiet_NaN(), -3.25e-39f};
  alignas(8) std::uint8_t raw[8 + sizeof(float) * 4];
  std::memcpy(raw, values.data(), sizeof(float) * 4);
  const auto bytes = std::span<const std::uint8_t>(raw, sizeof(float) * 4);
  const auto view = view_as<float>(DType::f32, bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(static_cast<const void*>(view->data()), static_cast<const void*>(raw));
  std::vector<float> decoded(4);
  decode<float>(DType::f32, bytes, decoded);
  ASSERT_EQ(view->size(), 4u);
  EXPECT_EQ(std::memcmp(view->data(), decoded.data(), sizeof(float) * 4), 0);
  EXPECT_FALSE(view_as<float>(DType::f32, std::span<const std::uint8_t>(raw + 1, 8)).has_value());  // misaligned
  EXPECT_FALSE(view_as<float>(DType::bf16, bytes).has_value());
  EXPECT_FALSE(view_as<float>(DType::f64, bytes).has_value());
  EXPECT_FALSE(view_as<double>(DType::f32, bytes).has_value());
  EXPECT_TRUE(view_as<double>(DType::f64, std::span<const std::uint8_t>(raw, 16)).has_value());
}

TEST(Convert, CountsNonFiniteValues) {
  const std::vector<double> values = {1.0, std::numeric_limits<double>::infinity(), std::nan(""), -3.0,
                                      -std::numeric_limits<double>::infinity()};
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    std::vector<std::uint8_t> raw(values.size() * dtype_size(dtype));
    encode<double>(values, dtype, raw);
    EXPECT_EQ(count_nonfinite(dtype, raw), 3u) << dtype_name(dtype);
  }
  std::vector<std::uint8_t> ints(16, 0xFF);
  EXPECT_EQ(count_nonfinite(DType::i64, ints), 0u);
}

// The merge converts every merged slice with encode_counting_nonfinite: the same bytes as encode,
// and the count of values that come out NaN or infinite, overflow of a narrow dtype included.
TEST(Convert, EncodingCountsWhatComesOutNonFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {1.0, 70000.0, -1e39, 1e39, std::nan(""), -inf, 3.5, 1e300};
  // Per dtype, how many of the values are not finite once converted: float16 stops at 65504,
  // bfloat16 and float32 near 3.4e38, float64 at 1.8e308.
  const std::pair<DType, std::uint64_t> expected[] = {{DType::f16, 6}, {DType::bf16, 5}, {DType::f32, 5}, {DType::f64, 2}};
  for (const auto& [dtype, count] : expected) {
    std::vector<std::uint8_t> plain(values.size() * dtype_size(dtype)), counted(plain.size());
    encode<double>(values, dtype, plain);
    EXPECT_EQ(encode_counting_nonfinite<double>(values, dtype, counted), count) << dtype_name(dtype);
    EXPECT_EQ(counted, plain) << dtype_name(dtype);
    const std::vector<float> floats(values.begin(), values.end());  // 1e39 and 1e300 are inf as float
    std::vector<std::uint8_t> from_floats(values.size() * dtype_size(dtype));
    EXPECT_EQ(encode_counting_nonfinite<float>(floats, dtype, from_floats), dtype == DType::f16 ? 6u : 5u)
        << dtype_name(dtype);
  }
  EXPECT_EQ(count_nonfinite_values<double>(values), 2u);
  EXPECT_EQ(count_nonfinite_values<float>(std::vector<float>(values.begin(), values.end())), 5u);
}

// A block longer than a 16-bit counter can count (the counter is emptied every 65535 elements).
TEST(Convert, EncodingCountsPastSixteenBitsOfElements) {
  const std::vector<float> values(200000, std::numeric_limits<float>::infinity());
  std::vector<std::uint8_t> raw(values.size() * 2);
  EXPECT_EQ(encode_counting_nonfinite<float>(values, DType::bf16, raw), 200000u);
}

TEST(DTypes, NamesAndAliases) {
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("BF16"), DType::bf16);
  EXPECT_EQ(parse_dtype("float"), DType::f32);
  EXPECT_EQ(parse_dtype("fp16"), DType::f16);
  EXPECT_EQ(parse_dtype("I64"), DType::i64);
  EXPECT_FALSE(parse_dtype("complex64"));
  EXPECT_EQ(dtype_name(DType::f8_e4m3), "F8_E4M3");
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_TRUE(is_float(DType::bf16));
  EXPECT_FALSE(is_float(DType::u8));
}

}  // namespace
}  // namespace mpimerge
