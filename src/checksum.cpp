#include "mpimerge/checksum.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>

#include "mpimerge/error.hpp"
#include "mpimerge/util/counter_rng.hpp"

namespace mpimerge {

std::uint64_t partial_checksum(std::span<const std::uint8_t> rows, std::uint64_t first_row, std::uint64_t row_bytes) {
  if (row_bytes == 0) return 0;
  std::uint64_t sum = 0;
  const std::uint64_t count = rows.size() / row_bytes;
  for (std::uint64_t r = 0; r < count; ++r)
    sum += mix64(XXH3_64bits(rows.data() + r * row_bytes, row_bytes) + first_row + r);
  return sum;
}

std::uint64_t finish_checksum(std::uint64_t partial_sum, const TensorInfo& tensor) {
  std::uint64_t h = mix64(partial_sum ^ (static_cast<std::uint64_t>(tensor.dtype) + 1));
  for (std::uint64_t d : tensor.shape) h = mix64(h ^ (d + 0x9E3779B97F4A7C15ull));
  return mix64(h ^ tensor.shape.size());
}

std::uint64_t text_checksum(std::string_view text) { return XXH3_64bits(text.data(), text.size()); }

std::string checksum_hex(std::uint64_t checksum) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

std::uint64_t parse_checksum_hex(const std::string& text) {
  if (text.size() != 16 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw InputError("'" + text + "' is not a checksum (16 lower-case hex digits)");
  return std::stoull(text, nullptr, 16);
}

}  // namespace mpimerge
