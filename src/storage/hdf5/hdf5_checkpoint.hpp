#pragma once
// The HDF5 backend: one dataset per tensor. Rank 0 reads and writes the metadata with serial HDF5;
// every rank reads and writes tensor bytes with MPI-IO. See docs/checkpoint-format.md.
#include <memory>
#include <string>
#include <vector>

#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge::storage::hdf5 {

// Whether path is a regular file with the HDF5 signature at byte 0 or after a user block (512,
// 1024, 2048... bytes).
bool looks_like_hdf5(const std::string& path);

// The dataset attribute that holds a tensor's checksum (checksum.hpp) as 16 hex digits.
// "0000000000000000" means none recorded.
inline constexpr const char* kChecksumAttribute = "mpimerge_checksum";
// The dataset attribute that holds a tensor's position in the checkpoint's order (an integer).
inline constexpr const char* kOrderAttribute = "mpimerge_order";

// checksums: read the mpimerge_checksum attributes too (OpenOptions::checksums).
std::unique_ptr<CheckpointReader> open_hdf5(const std::string& path, const mpi::Comm& comm, bool checksums);
// reopen: open a file an interrupted run created with these tensors, instead of creating one.
// direct_writes: write the datasets' bytes with O_DIRECT at their offsets (OutputSpec).
std::unique_ptr<CheckpointWriter> create_hdf5(const std::string& path,
                                              const std::vector<TensorInfo>& tensors,
                                              const mpi::Comm& comm, bool reopen = false,
                                              bool direct_writes = false);

}  // namespace mpimerge::storage::hdf5
