#pragma once
// Where every tensor of a safetensors output goes: which file, at which byte offset. Computed from
// names, shapes and dtypes alone, so every rank computes the same layout without talking.
#include <cstdint>
#include <string>
#include <vector>

#include "mpimerge/tensor.hpp"

namespace mpimerge::storage::safetensors {

// Hugging Face's rule (huggingface_hub split_state_dict_into_shards_factory, which transformers'
// save_pretrained uses): walk the tensors in order; a tensor larger than max_shard_bytes gets a
// shard of its own, appended at once; otherwise a tensor that would take the current shard over
// max_shard_bytes closes it and starts the next. Sizes count tensor bytes only. Returns each
// shard's tensor indexes, in the order given.
std::vector<std::vector<std::size_t>> split_into_shards(const std::vector<TensorInfo>& tensors,
                                                        std::uint64_t max_shard_bytes);

// "model-00002-of-00005.safetensors"; a single shard is "model.safetensors".
std::string shard_file_name(std::size_t shard, std::size_t shards);

struct ShardFile {
  std::string name;                  // file name in the directory
  std::vector<std::size_t> tensors;  // indexes into the tensor list, in the file's order
  std::vector<std::uint8_t> header;  // 8-byte length, JSON, padding
  std::uint64_t size = 0;            // header + data
};

struct FileLayout {
  std::vector<ShardFile> files;
  std::vector<std::size_t> file_of;       // per tensor: index into files
  std::vector<std::uint64_t> offset_of;   // per tensor: byte offset of its data in its file
  std::uint64_t total_size = 0;           // bytes of tensor data, as the index's total_size
  std::uint64_t total_parameters = 0;
};

// The files of a checkpoint directory (split by max_shard_bytes) or of one file (single_file set:
// everything in one file of that name). Within a file, tensors are laid out as the reference
// writer does: by descending layout_rank of the dtype, then by name. __metadata__ is
// {"format": "pt"}, which transformers requires.
FileLayout plan_files(const std::vector<TensorInfo>& tensors, std::uint64_t max_shard_bytes,
                      const std::string& single_file = "");

}  // namespace mpimerge::storage::safetensors
