#pragma once
// Sizes as users write them, one way for every size option (--memory-budget, --shard-size,
// memory_budget and shard_size in sweep files): as mergekit and Hugging Face read them.
#include <cstdint>
#include <string>

namespace mpimerge {

// "5B" and "5G" and "5GB" = 5e9 bytes (B: billion, as mergekit's --max-shard-size), "1M" = "1MB" =
// 1e6, "40K" = "40KB" = 4e4, "2T" = 2e12; "2GiB" = 2^31, "512MiB", "4KiB", "1TiB" are powers of two;
// a plain number is bytes; fractions of a unit ("1.5G") are rounded down to whole bytes. Units are
// case-insensitive. Throws UsageError naming the text for anything else, zero, or 2^64 and more.
std::uint64_t parse_size(const std::string& text);

}  // namespace mpimerge
