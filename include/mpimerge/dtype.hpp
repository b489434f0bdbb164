#pragma once
// Element types a checkpoint tensor can have. The floating-point ones are merged; the others are
// carried over unchanged from the base.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpimerge {

enum class DType : std::uint8_t {
  f32, f64, f16, bf16,                    // merged
  i8, i16, i32, i64, u8, u16, u32, u64,   // copied from the base
  boolean, f8_e4m3, f8_e5m2,              // copied from the base
};

std::size_t dtype_size(DType t);
bool is_float(DType t);  // one of the four merged types
// Canonical short name as safetensors spells it: "F32", "BF16", "I64", ...
std::string_view dtype_name(DType t);
// Accepts safetensors names and common aliases ("float32", "bfloat16", "fp16", "f32", ...).
std::optional<DType> parse_dtype(std::string_view name);

// The arithmetic type a tensor is merged in: float64 when any input is float64, else float32.
enum class ComputeType : std::uint8_t { f32, f64 };

}  // namespace mpimerge
