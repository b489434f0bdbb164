#pragma once
// The safetensors backend: one .safetensors file, or a Hugging Face directory of shards with
// model.safetensors.index.json. Tensors are byte ranges, moved with MPI-IO (read_at_all /
// write_at_all of each rank's rows); rank 0 reads each header and index and broadcasts them.
#include <memory>
#include <string>
#include <vector>

#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge::storage::safetensors {

// Whether the path is a safetensors input: a directory holding model.safetensors or an index, an
// index file, or a file whose name ends in .safetensors.
bool looks_like_safetensors(const std::string& path);

std::unique_ptr<CheckpointReader> open_safetensors(const std::string& path, const mpi::Comm& comm);

// Collective. For hf_directory, path is the directory (created here); for safetensors_file, the file.
std::unique_ptr<CheckpointWriter> create_safetensors(const std::string& path, const OutputSpec& spec,
                                                     const std::vector<TensorInfo>& tensors, const mpi::Comm& comm);

}  // namespace mpimerge::storage::safetensors
