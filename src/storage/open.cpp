// Chooses the backend for a path. The only place that knows which formats exist.
#include <filesystem>

#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"

namespace mpimerge::storage {

std::unique_ptr<CheckpointReader> open_checkpoint(const std::string& path, const mpi::Comm& comm) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw InputError(path + ": is a directory, expected a checkpoint file");
  if (hdf5::looks_like_hdf5(path)) return hdf5::open_hdf5(path, comm);
  throw InputError(path + ": not a checkpoint this program reads (expected an HDF5 file)");
}

Format output_format_for(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".h5" || ext == ".hdf5") return Format::hdf5;
  throw UsageError("output '" + path + "': unknown format (use a .h5 or .hdf5 file name)");
}

std::unique_ptr<CheckpointWriter> create_checkpoint(const std::string& path, Format format,
                                                    const std::vector<TensorInfo>& tensors,
                                                    const mpi::Comm& comm) {
  switch (format) {
    case Format::hdf5: return hdf5::create_hdf5(path, tensors, comm);
  }
  throw Error("unknown output format");
}

}  // namespace mpimerge::storage
