// Raw bytes <-> compute types, for every float dtype, and the finiteness scan.
#include "mpimerge/convert.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
