#pragma once
// The one interface every checkpoint format sits behind. Nothing outside a backend includes hdf5.h
// or parses a file format.
//
// Collective contract: every rank of the communicator calls each function below, in the same order
// with the same tensor, each passing its own row range (possibly empty). One call is one collective
// transfer, so callers keep each call under kMaxTransferBytes per rank and make the same number of
// calls on every rank (see for_each_transfer in pipeline/transfers.hpp).
#include <cstdint>
#include <memory>
#include <optional>
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

// Tensors this small (in all, the same on every rank) are read and written in batches with
// independent I/O and one agreement per batch; larger ones with a collective transfer each, which
// is what parallel file systems want for large transfers. A checkpoint of 100k small tensors
// would otherwise cost several collective calls per tensor and input.
inline constexpr std::uint64_t kBatchedTensorBytes = std::uint64_t{1} << 20;

// One piece of a batched read: rows of tensors()[index] into out (rows.count() whole rows).
struct RowRead {
  std::size_t index = 0;
  RowRange rows;
  std::span<std::uint8_t> out;
};

// One piece of a batched write: rows of tensors()[index] from data.
struct RowWrite {
  std::size_t index = 0;
  RowRange rows;
  std::span<const std::uint8_t> data;
};

class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;
  virtual const std::string& path() const = 0;
  // In the order the file lists them (HDF5: by name).
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Reads rows of tensors()[index] as raw little-endian elements of the tensor's dtype.
  virtual void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) = 0;
  // Many read_rows calls as one collective step: every rank passes the same tensors in the same
  // order (its own rows of each, possibly none), each piece under kMaxTransferBytes per rank.
  // Backends read tensors under kBatchedTensorBytes independently and agree once on the batch's
  // outcome; this default makes one read_rows call per piece.
  virtual void read_rows_batch(std::span<const RowRead> reads) {
    for (const RowRead& r : reads) read_rows(r.index, r.rows, r.out);
  }
  // A hint, not collective: these rows will be read soon, start fetching them. No effect on results.
  virtual void prefetch_rows(std::size_t /*index*/, RowRange /*rows*/) {}
  // The checksum the file records for tensors()[index] (set_checksums), if it records one and the
  // reader was opened with OpenOptions::checksums.
  virtual std::optional<std::uint64_t> stored_checksum(std::size_t /*index*/) const { return std::nullopt; }
  // What the checkpoint is, for people: "HDF5 file", "Hugging Face directory, 2 shards".
  virtual std::string describe() const { return "checkpoint"; }
  // Every file the reader reads (the file; a Hugging Face directory's index and each shard), for
  // pinning the input's identity (durability/input_pins.hpp). Read-only, not collective.
  virtual std::vector<std::string> files() const { return {path()}; }
};

class CheckpointWriter {
 public:
  virtual ~CheckpointWriter() = default;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  virtual void write_rows(std::size_t index, RowRange rows, std::span<const std::uint8_t> data) = 0;
  // Many write_rows calls as one collective step, under read_rows_batch's contract.
  virtual void write_rows_batch(std::span<const RowWrite> writes) {
    for (const RowWrite& w : writes) write_rows(w.index, w.rows, w.data);
  }
  // Records each tensor's content checksum (see checksum.hpp) in the file where the format has a
  // place for it (HDF5: a dataset attribute); collective, before finish(). Formats without one
  // ignore it: the report beside the output holds the checksums too.
  virtual void set_checksums(std::span<const std::uint64_t> /*per tensor*/) {}
  // Whether tensors go to the file with O_DIRECT (OutputSpec::direct_writes, where the file system
  // took it) rather than collective MPI-IO.
  virtual bool writes_direct() const { return false; }
  // Makes everything written so far durable (collective): a resume journal may then say so.
  virtual void flush() = 0;
  // Flushes and closes; returns on each rank only once every rank's data is in the file.
  virtual void finish() = 0;
};

enum class Format {
  hdf5,              // one HDF5 file
  safetensors_file,  // one .safetensors file
  hf_directory,      // a Hugging Face directory: shards, index, config and tokenizer files
};

// How to write an output beyond its tensors.
struct OutputSpec {
  Format format = Format::hdf5;
  std::uint64_t shard_bytes = 5'000'000'000;  // hf_directory: Hugging Face's default "5GB"
  std::string model_files_from;               // hf_directory: copy config/tokenizer files from here
  std::optional<DType> config_dtype;          // hf_directory: set config.json's dtype to this
  std::optional<std::uint64_t> config_layers;  // hf_directory: set config.json's layer count to this
  std::string tokenizer_from;  // hf_directory: take the tokenizer files from here instead
  std::string chat_template;   // hf_directory: write this chat template (chat_template.jinja)
  // hf_directory: tokenizer files built for the output (name, text) that replace tokenizer_from's
  // (a vocabulary aligned across models; see write_tokenizer_files), and config.json's vocab_size.
  std::vector<std::pair<std::string, std::string>> tokenizer_files = {};
  std::optional<std::uint64_t> config_vocab_size = std::nullopt;
  // hf_directory: files written beside the weights, by name (the model card README.md, the job file
  // as mergekit_config.yml); they replace a copied file of the same name.
  std::vector<std::pair<std::string, std::string>> extra_files = {};
  // Open an output that an interrupted run created with these same tensors, to write the rows it
  // did not finish (--resume), instead of creating it. Files beside the tensors are left as they are.
  bool reopen = false;
  // Each rank writes its rows with O_DIRECT, past the page cache, instead of collective MPI-IO
  // writes (see storage/direct_file.hpp); where the file system refuses O_DIRECT, MPI-IO it is.
  bool direct_writes = false;
};

struct OpenOptions {
  // Read the checksums the file records (stored_checksum), as verify does. A merge does not need
  // them and leaves them unread, so that a malformed one cannot stop it.
  bool checksums = false;
};

// Finds the format from the path (and, for files, the content): an HDF5 file, a .safetensors
// file, or a Hugging Face directory (or its model.safetensors.index.json). Anything else, and any
// FIFO, device or socket, is refused before it is opened. Every file is checked whole before a
// tensor is read, and every read checks that the file still holds what it was checked to hold.
// Collective.
std::unique_ptr<CheckpointReader> open_checkpoint(const std::string& path, const mpi::Comm& comm,
                                                  const OpenOptions& options = {});

// Creates a checkpoint holding exactly these tensors (contents written later). Collective.
std::unique_ptr<CheckpointWriter> create_checkpoint(const std::string& path, const OutputSpec& spec,
                                                    const std::vector<TensorInfo>& tensors,
                                                    const mpi::Comm& comm);
inline std::unique_ptr<CheckpointWriter> create_checkpoint(const std::string& path, Format format,
                                                           const std::vector<TensorInfo>& tensors,
                                                           const mpi::Comm& comm) {
  return create_checkpoint(path, OutputSpec{format, 5'000'000'000, {}, {}, {}, {}, {}}, tensors, comm);
}

// The format an output path asks for: requested is "", "hdf5" or "safetensors" (--output-format).
// Without a request: .h5/.hdf5 is HDF5, .safetensors one safetensors file, and a path ending in
// '/', an existing directory or any other name a Hugging Face directory ("Llama-3.1-8B-merged":
// a dot starts an extension only when it names a file type, and those of other programs, .bin,
// .pt, .gguf, ..., are refused). With
// "safetensors", a path not ending in .safetensors is a directory. Throws UsageError otherwise.
Format output_format_for(const std::string& path, const std::string& requested = "");

// The Hugging Face directory an input path belongs to (the directory itself, the directory of its
// index, or of a .safetensors file with a config.json beside it), or "" when there is none.
std::string model_directory_of(const std::string& input_path);

}  // namespace mpimerge::storage
