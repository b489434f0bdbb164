#pragma once
// model.safetensors.index.json, the map from tensor to shard file of a sharded Hugging Face
// checkpoint: {"metadata": {"total_size": bytes, ...}, "weight_map": {"tensor": "file", ...}}.
// Pure: parsed from and written to text.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpimerge::storage::safetensors {

inline constexpr const char* kIndexFileName = "model.safetensors.index.json";
inline constexpr const char* kSingleFileName = "model.safetensors";
// An index larger than this is not one (the reference limits headers to the same size).
inline constexpr std::uint64_t kMaxIndexBytes = 100'000'000;

struct ShardIndex {
  std::optional<std::uint64_t> total_size;
  std::vector<std::pair<std::string, std::string>> weight_map;  // tensor -> shard file name, as listed
  // The distinct shard files, sorted (model-00001-of-00003... sort in shard order).
  std::vector<std::string> shard_files() const;
};

// Throws InputError naming the file for anything but a JSON object whose weight_map maps unique
// tensor names to plain file names (no directories) and whose metadata.total_size, if present, is
// a non-negative integer.
ShardIndex parse_index(std::string_view text, std::string_view path);

// The index as transformers writes it (json.dumps(index, indent=2, sort_keys=True) + "\n"), with
// metadata.total_parameters and metadata.total_size.
std::string index_json(const std::vector<std::pair<std::string, std::string>>& weight_map, std::uint64_t total_size,
                       std::uint64_t total_parameters);

}  // namespace mpimerge::storage::safetensors
