// Fuzzes parse_index (model.safetensors.index.json). An index it accepts must round-trip through
// index_json to the same weight map (index_json sorts by tensor name), and hold what a JSON
// parser's document holds (parse_index reads it in one SAX pass, without a document). Only
// mpimerge::Error may escape the parser.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

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
  const nlohmann::json document = nlohmann::json::parse(text);  // valid JSON, or parse_index threw
  const nlohmann::json& map = document.at("weight_map");
  if (map.size() != index.weight_map.size()) std::abort();
  for (const auto& [tensor, file] : index.weight_map)
    if (map.at(tensor).get<std::string>() != file) std::abort();
  const bool listed = document.contains("metadata") && document["metadata"].contains("total_size");
  if (listed != index.total_size.has_value()) std::abort();
  if (listed && document["metadata"]["total_size"].get<std::uint64_t>() != *index.total_size) std::abort();
  const ShardIndex again = parse_index(index_json(index.weight_map, index.total_size.value_or(0), 0), "rebuilt.json");
  auto sorted = index.weight_map;
  std::sort(sorted.begin(), sorted.end());
  if (again.weight_map != sorted) std::abort();
  return 0;
}
