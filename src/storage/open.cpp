// Chooses the backend for a path. The only place that knows which formats exist.
#include <filesystem>

#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/input_file.hpp"
#include "storage/safetensors/index.hpp"
#include "storage/safetensors/safetensors_checkpoint.hpp"

namespace mpimerge::storage {
namespace fs = std::filesystem;

std::unique_ptr<CheckpointReader> open_checkpoint(const std::string& path, const mpi::Comm& comm,
                                                  const OpenOptions& options) {
  std::error_code ec;
  // Before anything opens it: opening a FIFO for reading blocks until a writer comes.
  require_regular_file_or_directory(path);
  if (safetensors::looks_like_safetensors(path)) return safetensors::open_safetensors(path, comm);
  if (fs::is_directory(path, ec))
    throw InputError(path + ": a directory without " + safetensors::kSingleFileName + " or " +
                     safetensors::kIndexFileName + " (expected a Hugging Face checkpoint directory)");
  if (hdf5::looks_like_hdf5(path)) return hdf5::open_hdf5(path, comm, options.checksums);
  throw InputError(path + ": not a checkpoint this program reads (expected an HDF5 file, a .safetensors file or a "
                          "Hugging Face directory)");
}

Format output_format_for(const std::string& path, const std::string& requested) {
  const fs::path p(path);
  const std::string ext = p.extension().string();
  const bool slash = !path.empty() && path.back() == '/';
  std::error_code ec;
  if (requested == "hdf5") return Format::hdf5;
  if (requested == "safetensors") return ext == ".safetensors" && !slash ? Format::safetensors_file : Format::hf_directory;
  if (!requested.empty())
    throw UsageError("--output-format '" + requested + "': expected hdf5 or safetensors");
  if (slash || fs::is_directory(path, ec)) return Format::hf_directory;
  if (ext == ".h5" || ext == ".hdf5") return Format::hdf5;
  if (ext == ".safetensors") return Format::safetensors_file;
  if (ext.empty()) return Format::hf_directory;
  throw UsageError("output '" + path + "': unknown format (use a .h5 or .safetensors file name, a directory for a "
                   "Hugging Face checkpoint, or --output-format)");
}

std::unique_ptr<CheckpointWriter> create_checkpoint(const std::string& path, const OutputSpec& spec,
                                                    const std::vector<TensorInfo>& tensors,
                                                    const mpi::Comm& comm) {
  switch (spec.format) {
    case Format::hdf5: return hdf5::create_hdf5(path, tensors, comm, spec.reopen, spec.direct_writes);
    case Format::safetensors_file:
    case Format::hf_directory: return safetensors::create_safetensors(path, spec, tensors, comm);
  }
  throw Error("unknown output format");
}

std::string model_directory_of(const std::string& input_path) {
  std::error_code ec;
  const fs::path p(input_path);
  if (fs::is_directory(p, ec)) return safetensors::looks_like_safetensors(input_path) ? input_path : "";
  const std::string name = p.filename().string();
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (name == safetensors::kIndexFileName) return parent.string();
  if (p.extension() == ".safetensors" && fs::exists(parent / "config.json", ec)) return parent.string();
  return "";
}

}  // namespace mpimerge::storage
