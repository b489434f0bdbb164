#pragma once
// The one interface every checkpoint format sits behind. Nothing outside a backend includes hdf5.h
// or parses a file format.
//
// Collective contract: every rank of the communicator calls each function below, in the same order
// with the same tensor, each passing its own row range (possibly empty). One call is one collective
// transfer, so callers keep each call under kMaxTransferBytes per rank and make the same number of
// calls on every rank (see for_each_transfer in engine/transfers.hpp).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpimerge/tensor.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge::storage {

// MPI-IO and HDF5 1.10 are fragile with transfers of 2 GiB or more per call; stay well below.
inline constexpr std::uint64_t kMaxTransferBytes = std::uint64_t{1} << 30;

class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;
  virtual const std::string& path() const = 0;
  // In the order the file lists them (HDF5: by name).
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Reads rows of tensors()[index] as raw little-endian elements of the tensor's dtype.
  virtual void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) = 0;
};

class CheckpointWriter {
 public:
  virtual ~CheckpointWriter() = default;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  virtual void write_rows(std::size_t index, RowRange rows, std::span<const std::uint8_t> data) = 0;
  // Flushes and closes; returns on each rank only once every rank's data is in the file.
  virtual void finish() = 0;
};

enum class Format { hdf5 };

// Finds the format from the path (and, for files, the content). Collective.
std::unique_ptr<CheckpointReader> open_checkpoint(const std::string& path, const mpi::Comm& comm);

// Creates a checkpoint holding exactly these tensors (contents written later). Collective.
std::unique_ptr<CheckpointWriter> create_checkpoint(const std::string& path, Format format,
                                                    const std::vector<TensorInfo>& tensors,
                                                    const mpi::Comm& comm);

// The format an output path asks for (by its extension).
Format output_format_for(const std::string& path);

}  // namespace mpimerge::storage
