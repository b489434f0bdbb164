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
