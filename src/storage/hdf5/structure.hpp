#pragma once
// The HDF5 output's structure: its groups, one contiguous dataset per tensor allocated up front,
// and each dataset's mpimerge attributes, written by one process with serial HDF5 (no MPI). The
// writer (writer.cpp) runs these on rank 0 and broadcasts the datasets' offsets; every rank then
// writes tensor bytes there with MPI-IO or O_DIRECT, bytes HDF5 itself never touches (no fill
// values). One process making every object serially is what keeps 100k tensors linear: parallel
// HDF5 makes each H5Dcreate and attribute a collective step of every rank.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpimerge/tensor.hpp"

namespace mpimerge::storage::hdf5 {

struct Structure {
  std::vector<std::uint64_t> data_offsets;  // per tensor, where its bytes start (0: no elements)
  std::uint64_t data_end = 0;               // the end of the last dataset's bytes
  bool operator==(const Structure&) const = default;
};

// Creates path (replacing any file there) holding these tensors' datasets, in this order, each
// with its position (kOrderAttribute) and an empty checksum (kChecksumAttribute); closes it and
// syncs it, so that a killed run leaves a file a resumed one can reopen. Throws Error.
Structure create_structure(const std::string& path, std::span<const TensorInfo> tensors);

// The writer's way to create_structure, the file held open from its creation to its checksums:
// the constructor creates the file (milliseconds: the ranks can open it for their writes), build()
// its datasets and attributes (seconds for 100k tensors) and writes them out, in the page cache,
// without closing the file; write_checksums() or close() closes it. Neither syncs: the caller does,
// before it counts on the file. Any step may run on another thread, holding hdf5_library_lock().
// Keeps path and tensors' spans: they must outlive it. The destructor closes a file still open.
class StructureBuilder {
 public:
  StructureBuilder(const std::string& path, std::span<const TensorInfo> tensors);
  ~StructureBuilder();
  StructureBuilder(const StructureBuilder&) = delete;
  StructureBuilder& operator=(const StructureBuilder&) = delete;
  Structure build();
  // After build(): each dataset's kChecksumAttribute (as write_checksums), then closes the file.
  void write_checksums(std::span<const std::uint64_t> checksums);
  void close();

 private:
  std::unique_ptr<class StructureWriter> writer_;
};

// Reopens the file an interrupted run created for these tensors (--resume): every dataset must be
// there with its shape. Throws InputError naming what is missing or different.
Structure open_structure(const std::string& path, std::span<const TensorInfo> tensors);

// Fills in each dataset's kChecksumAttribute (checksum.hpp, 16 hex digits) of a file that
// create_structure made (or a killed run's StructureBuilder), then closes it, unsynced. No other
// process may have it open through HDF5.
void write_checksums(const std::string& path, std::span<const TensorInfo> tensors,
                     std::span<const std::uint64_t> checksums);

// The structure as bytes, to broadcast it; decode_structure(encode_structure(s)) == s.
std::vector<std::uint8_t> encode_structure(const Structure& structure);
Structure decode_structure(std::span<const std::uint8_t> bytes);

}  // namespace mpimerge::storage::hdf5
