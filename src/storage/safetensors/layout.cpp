#include "storage/safetensors/layout.hpp"

#include <algorithm>
#include <cstdio>

#include "storage/safetensors/header.hpp"

namespace mpimerge::storage::safetensors {

std::vector<std::vector<std::size_t>> split_into_shards(const std::vector<TensorInfo>& tensors,
                                                        std::uint64_t max_shard_bytes) {
  std::vector<std::vector<std::size_t>> shards;
  std::vector<std::size_t> current;
  std::uint64_t current_bytes = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::uint64_t bytes = tensors[i].bytes();
    if (bytes > max_shard_bytes) {
      shards.push_back({i});
      continue;
    }
    if (current_bytes + bytes > max_shard_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(i);
    current_bytes += bytes;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));
  return shards;
}

std::string shard_file_name(std::size_t shard, std::size_t shards) {
  if (shards == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", shard + 1, shards);
  return name;
}

FileLayout plan_files(const std::vector<TensorInfo>& tensors, std::uint64_t max_shard_bytes,
                      const std::string& single_file) {
  std::vector<std::vector<std::size_t>> shards;
  if (single_file.empty()) {
    shards = split_into_shards(tensors, max_shard_bytes);
  } else {
    shards.emplace_back(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) shards[0][i] = i;
  }
  FileLayout layout;
  layout.file_of.resize(tensors.size());
  layout.offset_of.resize(tensors.size());
  for (std::size_t s = 0; s < shards.size(); ++s) {
    ShardFile file;
    file.name = single_file.empty() ? shard_file_name(s, shards.size()) : single_file;
    file.tensors = shards[s];
    std::stable_sort(file.tensors.begin(), file.tensors.end(), [&](std::size_t a, std::size_t b) {
      const int ra = layout_rank(tensors[a].dtype), rb = layout_rank(tensors[b].dtype);
      return ra != rb ? ra > rb : tensors[a].name < tensors[b].name;
    });
    std::vector<TensorInfo> in_file;
    for (const std::size_t i : file.tensors) in_file.push_back(tensors[i]);
    file.header = build_header(in_file, {{"format", "pt"}});
    std::uint64_t offset = file.header.size();
    for (const std::size_t i : file.tensors) {
      layout.file_of[i] = s;
      layout.offset_of[i] = offset;
      offset += tensors[i].bytes();
      layout.total_size += tensors[i].bytes();
      layout.total_parameters += tensors[i].elements();
    }
    file.size = offset;
    layout.files.push_back(std::move(file));
  }
  return layout;
}

}  // namespace mpimerge::storage::safetensors
