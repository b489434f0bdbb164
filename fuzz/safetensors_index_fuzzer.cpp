// Fuzzes parse_index (model.safetensors.index.json). An index it accepts must round-trip through
// index_json to the same weight map (index_json sorts by tensor name). Only mpimerge::Error may
// escape the parser.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mpimerge/error.hpp"
#include "storage/safetensors/index.hpp"

using namespace mpimerge::storage::safetensors;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ShardIndex index;
  try {
    index = parse_index(text, "fuzz.index.json");
  } catch (const mpimerge::Error&) {
    return 0;
  }
  (void)index.shard_files();
  const ShardIndex again = parse_index(index_json(index.weight_map, index.total_size.value_or(0), 0), "rebuilt.json");
  auto sorted = index.weight_map;
  std::sort(sorted.begin(), sorted.end());
  if (again.weight_map != sorted) std::abort();
  return 0;
}
