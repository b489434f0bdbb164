// parse_byte_size (see checkpoint.hpp): apart from the backends, so that the pure parsers that use
// it (the sweep file, job files) build and fuzz without MPI or HDF5.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge::storage {

std::uint64_t parse_byte_size(const std::string& text) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},          {"B", 1},           {"KB", 1000},        {"MB", 1000'000},    {"GB", 1000'000'000},
      {"TB", 1000'000'000'000}, {"KIB", 1ull << 10}, {"MIB", 1ull << 20}, {"GIB", 1ull << 30}, {"TIB", 1ull << 40},
  };
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  std::string unit(end, text.data() + text.size());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (ec == std::errc() && end != text.data())
    for (const auto& [name, scale] : kUnits)
      if (unit == name && number > 0 && number <= UINT64_MAX / scale) return number * scale;
  throw UsageError("size '" + text + "': expected a positive number of bytes, optionally with KB, MB, GB, TB (powers "
                   "of 1000) or KiB, MiB, GiB, TiB (powers of 1024), as in 5GB");
}

}  // namespace mpimerge::storage
