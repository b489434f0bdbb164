#include "mpimerge/util/size.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>
#include <utility>

#include "mpimerge/error.hpp"

namespace mpimerge {

std::uint64_t parse_size(const std::string& text) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1},         {"K", 1e3},        {"KB", 1e3},       {"M", 1e6},        {"MB", 1e6},
      {"G", 1e9},      {"GB", 1e9},       {"B", 1e9},        {"T", 1e12},       {"TB", 1e12},
      {"KIB", 0x1p10}, {"MIB", 0x1p20},   {"GIB", 0x1p30},   {"TIB", 0x1p40},
  };
  const auto refuse = [&] {
    return UsageError("size '" + text + "': expected a positive number of bytes with an optional unit: K, M, G (or B, "
                      "billion), T for powers of 1000 (KB, MB, GB, TB too), KiB, MiB, GiB, TiB for powers of 1024, "
                      "as in 5GB, 5B, 512MiB");
  };
  std::size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
  if (digits == 0 || std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(digits), '.') > 1) throw refuse();
  double value = 0;
  try {
    value = std::stod(text.substr(0, digits));
  } catch (const std::exception&) {
    throw refuse();
  }
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bytes = std::floor(value * scale);
    if (!(bytes >= 1)) throw refuse();
    // Converting 2^64 or more to uint64 is undefined (found by fuzz/sweep_config_fuzzer.cpp).
    if (!(bytes < 0x1p64)) throw UsageError("size '" + text + "' is too large");
    return static_cast<std::uint64_t>(bytes);
  }
  throw refuse();
}

}  // namespace mpimerge
