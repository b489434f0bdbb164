#include "mpimerge/dtype.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace mpimerge {
namespace {

struct DTypeRow {
  DType type;
  std::size_t size;
  std::string_view name;
};

constexpr std::array<DTypeRow, 15> kTable{{
    {DType::f32, 4, "F32"},     {DType::f64, 8, "F64"},         {DType::f16, 2, "F16"},
    {DType::bf16, 2, "BF16"},   {DType::i8, 1, "I8"},           {DType::i16, 2, "I16"},
    {DType::i32, 4, "I32"},     {DType::i64, 8, "I64"},         {DType::u8, 1, "U8"},
    {DType::u16, 2, "U16"},     {DType::u32, 4, "U32"},         {DType::u64, 8, "U64"},
    {DType::boolean, 1, "BOOL"}, {DType::f8_e4m3, 1, "F8_E4M3"}, {DType::f8_e5m2, 1, "F8_E5M2"},
}};

const DTypeRow& row(DType t) { return kTable[static_cast<std::size_t>(t)]; }

}  // namespace

std::size_t dtype_size(DType t) { return row(t).size; }

bool is_float(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

std::string_view dtype_name(DType t) { return row(t).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& r : kTable)
    if (upper == r.name) return r.type;
  static constexpr std::pair<std::string_view, DType> kAliases[] = {
      {"FLOAT32", DType::f32}, {"FLOAT", DType::f32},   {"FP32", DType::f32},
      {"FLOAT64", DType::f64}, {"DOUBLE", DType::f64},  {"FP64", DType::f64},
      {"FLOAT16", DType::f16}, {"HALF", DType::f16},    {"FP16", DType::f16},
      {"BFLOAT16", DType::bf16},
  };
  for (const auto& [alias, type] : kAliases)
    if (upper == alias) return type;
  return std::nullopt;
}

}  // namespace mpimerge
