#include <exception>
#include <filesystem>
#include <fstream>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/file.hpp"
#include "mpimerge/util/disk_space.hpp"
#include "storage/batched_writes.hpp"
#include "storage/direct_file.hpp"
#include "storage/safetensors/index.hpp"
#include "storage/safetensors/layout.hpp"
#include "storage/safetensors/model_files.hpp"
#include "storage/safetensors/safetensors_checkpoint.hpp"

namespace mpimerge::storage::safetensors {
namespace fs = std::filesystem;
namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(path.string() + ": cannot write");
}

// Every rank knows every file's layout up front, so the writing needs no coordination beyond the
// collective calls: rank 0 writes the headers (and the index and model files), every rank writes
// its rows of every tensor at their known offsets.
class SafetensorsWriter final : public CheckpointWriter {
 public:
  SafetensorsWriter(const std::string& path, const OutputSpec& spec, const std::vector<TensorInfo>& tensors,
                    const mpi::Comm& comm)
      : tensors_(tensors), comm_(comm) {
    const bool directory = spec.format == Format::hf_directory;
    const fs::path dir = directory ? fs::path(path) : fs::path(path).parent_path();
    layout_ = plan_files(tensors, spec.shard_bytes, directory ? "" : fs::path(path).filename().string());
    if (spec.reopen) {  // an interrupted run's files: headers written, every file at its full size
      for (const ShardFile& shard : layout_.files) {
        files_.push_back(mpi::File::open_write(comm, (dir / shard.name).string()));
        if (files_.back().size() != shard.size)
          throw InputError((dir / shard.name).string() + ": the interrupted output is not the size this merge writes");
      }
      if (spec.direct_writes) open_direct(dir);
      return;
    }
    // Files beside the shards first: their errors can still be agreed on, before any collective I/O.
    mpi::run_agreed(comm, [&] {
      if (!comm.is_root()) return;
      if (directory) {
        fs::create_directories(dir);
        if (layout_.files.size() > 1) write_text(dir / kIndexFileName, index_text());
        if (!spec.model_files_from.empty()) copy_model_files(spec.model_files_from, dir.string(), spec.config_dtype, spec.config_layers,
                           spec.config_vocab_size);
        if (!spec.tokenizer_from.empty() || !spec.chat_template.empty())
          write_tokenizer_files(spec.tokenizer_from, dir.string(), spec.chat_template, spec.tokenizer_files);
        for (const auto& [name, text] : spec.extra_files) write_text(dir / name, text);
      }
    });
    for (const ShardFile& shard : layout_.files) {
      files_.push_back(mpi::File::create(comm, (dir / shard.name).string()));
      files_.back().set_size(shard.size);  // also cuts what a stale file held beyond it
      files_.back().write_at_all(0, comm.is_root() ? std::span<const std::uint8_t>(shard.header)
                                                   : std::span<const std::uint8_t>());
    }
    // Every shard's bytes taken on disk before any tensor is written: a disk too small for the
    // output fails here, on rank 0, with an error every rank agrees on (MPI-IO reports a disk
    // that fills up during collective writes to some ranks only).
    mpi::run_agreed(comm, [&] {
      if (comm.is_root())
        for (const ShardFile& shard : layout_.files) reserve_space((dir / shard.name).string(), shard.size);
    });
    if (spec.direct_writes) open_direct(dir);
  }

  const std::vector<TensorInfo>& tensors() const override { return tensors_; }

  void write_rows(std::size_t index, RowRange rows, std::span<const std::uint8_t> data) override {
    const TensorInfo& t = tensors_[index];
    const std::uint64_t row_bytes = t.row_elements() * dtype_size(t.dtype);
    if (!direct_.empty()) {
      mpi::run_agreed(comm_, [&] {
        direct_[layout_.file_of[index]].write_at(layout_.offset_of[index] + rows.begin * row_bytes,
                                                 data.first(rows.count() * row_bytes));
      });
      return;
    }
    files_[layout_.file_of[index]].write_at_all(layout_.offset_of[index] + rows.begin * row_bytes,
                                                data.subspan(0, rows.count() * row_bytes));
  }

  // Small tensors' rows independently (MPI-IO or O_DIRECT), each rank its own, then one
  // agreement for the batch; larger ones as write_rows does, in the batch's order.
  void write_rows_batch(std::span<const RowWrite> writes) override {
    write_batch(
        writes, tensors_, comm_, staging_, [&](std::size_t index) { return layout_.file_of[index]; },
        [&](std::size_t index) { return files_[layout_.file_of[index]].path(); },
        [&](std::size_t index) { return layout_.offset_of[index]; },
        [&](std::size_t file, std::uint64_t at, std::span<const std::uint8_t> bytes) {
          if (!direct_.empty()) direct_[file].write_at(at, bytes);
          else files_[file].write_at(at, bytes);
        },
        [&](const RowWrite& w) { write_rows(w.index, w.rows, w.data); });
  }

  bool writes_direct() const override { return !direct_.empty(); }

  void flush() override {
    sync_direct();
    for (mpi::File& f : files_) f.sync();
  }

  void finish() override {
    sync_direct();
    for (mpi::File& f : files_) {
      f.sync();
      f.close();
    }
    comm_.barrier();  // every rank's bytes are in the files before anyone reads them
  }

 private:
  // The headers went through MPI-IO (rank 0); the tensors' bytes go direct. Every shard or none.
  void open_direct(const fs::path& dir) {
    for (const ShardFile& shard : layout_.files) {
      std::optional<DirectFile> file = open_direct_on_all((dir / shard.name).string(), comm_);
      if (!file) {
        direct_.clear();
        return;
      }
      direct_.push_back(std::move(*file));
    }
  }

  void sync_direct() {
    if (!direct_.empty())
      mpi::run_agreed(comm_, [&] {
        for (DirectFile& f : direct_) f.sync();
      });
  }

  std::string index_text() const {
    std::vector<std::pair<std::string, std::string>> weight_map;
    for (std::size_t i = 0; i < tensors_.size(); ++i)
      weight_map.emplace_back(tensors_[i].name, layout_.files[layout_.file_of[i]].name);
    return index_json(weight_map, layout_.total_size, layout_.total_parameters);
  }

  std::vector<TensorInfo> tensors_;
  const mpi::Comm& comm_;
  FileLayout layout_;
  std::vector<mpi::File> files_;
  std::vector<DirectFile> direct_;  // per shard, when writing direct
  std::vector<std::uint8_t> staging_;  // runs of small tensors written as one (storage/adjacent_runs.hpp)
};

}  // namespace

std::unique_ptr<CheckpointWriter> create_safetensors(const std::string& path, const OutputSpec& spec,
                                                     const std::vector<TensorInfo>& tensors, const mpi::Comm& comm) {
  return std::make_unique<SafetensorsWriter>(path, spec, tensors, comm);
}

}  // namespace mpimerge::storage::safetensors
