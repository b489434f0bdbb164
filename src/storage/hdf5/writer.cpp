// The HDF5 writer. Rank 0 writes the file's structure alone, with serial HDF5 (structure.hpp):
// groups, contiguous datasets allocated up front, attributes; every rank gets the datasets' offsets
// or the same error. Rank 0 creates the file at once and its datasets on a thread while the merge
// reads and computes (seconds for 100k tensors, which every other rank used to wait out); the
// first write waits for them. Rank 0 keeps the file open in HDF5 until the checksums, so that they
// need not read 100k object headers back. Tensor bytes then go to those offsets as the safetensors
// writer sends them: collective MPI-IO for large tensors, independent writes for batches of small
// ones, or O_DIRECT.
// HDF5 never writes a dataset's bytes itself (no fill values), so the two never touch the same
// bytes, and no HDF5 call is collective: 100k tensors cost rank 0 100k serial creations, not 100k
// steps that every rank takes together.
#include <exception>
#include <future>
#include <mutex>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/file.hpp"
#include "mpimerge/util/disk_space.hpp"
#include "storage/batched_writes.hpp"
#include "storage/direct_file.hpp"
#include "storage/hdf5/handle.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/hdf5/names.hpp"
#include "storage/hdf5/structure.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

// f runs on rank 0 only; its structure, or its error, reaches every rank.
template <class F>
Structure structure_from_root(const mpi::Comm& comm, F&& f) {
  std::vector<std::uint8_t> bytes;
  mpi::run_agreed(comm, [&] {
    if (comm.is_root()) bytes = encode_structure(f());
  });
  comm.broadcast(bytes);
  return decode_structure(bytes);
}

class Hdf5Writer final : public CheckpointWriter {
 public:
  Hdf5Writer(const std::string& path, const std::vector<TensorInfo>& tensors, const mpi::Comm& comm, bool reopen,
             bool direct_writes)
      : path_(path), tensors_(tensors), comm_(comm) {
    // Before the file exists: the same on every rank, from the names and shapes alone.
    if (const std::string problem = unwritable_in_hdf5(tensors); !problem.empty())
      throw InputError("an HDF5 output cannot hold " + problem +
                       "; write a .safetensors file or a Hugging Face directory instead");
    // The structure is complete and written out before any data (ready_structure()), and on disk
    // before the journal counts any (flush()): a killed run leaves a file that a resumed one can
    // reopen (later writes touch only the datasets' bytes and, at the end, the checksums).
    if (reopen) {
      structure_ = structure_from_root(comm, [&] {
        const std::lock_guard lock(hdf5_library_lock());
        return open_structure(path_, tensors_);
      });
      ready_ = true;
    } else {
      mpi::run_agreed(comm, [&] {
        if (!comm.is_root()) return;
        const std::lock_guard lock(hdf5_library_lock());
        builder_.emplace(path_, tensors_);
      });
    }
    try {
      file_ = mpi::File::open_write(comm, path_);
      if (direct_writes) direct_ = open_direct_on_all(path_, comm_);
    } catch (...) {
      const std::lock_guard lock(hdf5_library_lock());
      builder_.reset();
      throw;
    }
    if (builder_)
      building_ = std::async(std::launch::async, [this] {
        Structure s;
        {
          const std::lock_guard lock(hdf5_library_lock());
          s = builder_->build();
        }
        // The datasets' bytes taken on disk before any is written: a disk too small for the
        // output fails on rank 0, with an error every rank agrees on at the first write. No HDF5
        // call: rank 0's own HDF5 reads need not wait for it.
        reserve_space(path_, s.data_end);
        return s;
      });
  }

  ~Hdf5Writer() override {
    if (building_.valid()) building_.wait();
    const std::lock_guard lock(hdf5_library_lock());
    builder_.reset();
  }

  const std::vector<TensorInfo>& tensors() const override { return tensors_; }

  void write_rows(std::size_t index, RowRange rows, std::span<const std::uint8_t> data) override {
    ready_structure();
    const TensorInfo& t = tensors_[index];
    // A tensor without elements ([5, 0]) has no storage, not even an address. Nothing to write,
    // decided from the shape alike on every rank.
    if (t.elements() == 0) return;
    const std::uint64_t at = structure_.data_offsets[index] + rows.begin * t.row_elements() * dtype_size(t.dtype);
    const std::span<const std::uint8_t> bytes = data.first(rows.count() * t.row_elements() * dtype_size(t.dtype));
    if (direct_) {
      mpi::run_agreed(comm_, [&] { direct_->write_at(at, bytes); });
      return;
    }
    file_.write_at_all(at, bytes);
  }

  // Small tensors' rows independently (MPI-IO or O_DIRECT), each rank its own, then one agreement
  // for the batch; larger ones as write_rows does, in the batch's order.
  void write_rows_batch(std::span<const RowWrite> writes) override {
    ready_structure();
    write_batch(
        writes, tensors_, comm_, staging_, [](std::size_t) { return std::size_t{0}; }, [&](std::size_t) { return path_; },
        [&](std::size_t index) { return structure_.data_offsets[index]; },
        [&](std::size_t, std::uint64_t at, std::span<const std::uint8_t> bytes) {
          if (direct_) direct_->write_at(at, bytes);
          else file_.write_at(at, bytes);
        },
        [&](const RowWrite& w) { write_rows(w.index, w.rows, w.data); });
  }

  bool writes_direct() const override { return direct_.has_value(); }

  // Takes rank 0's HDF5 writes (the structure) to disk with the tensors' bytes: fsync is per file.
  void flush() override {
    ready_structure();
    file_.sync();
    sync_direct();
  }

  // A 16-character hex string attribute, "mpimerge_checksum", on every dataset: rank 0 alone,
  // through HDF5, after every rank's writes (the attributes lie apart from the tensors' bytes).
  void set_checksums(std::span<const std::uint64_t> checksums) override {
    ready_structure();
    mpi::run_agreed(comm_, [&] {
      if (!comm_.is_root()) return;
      const std::lock_guard lock(hdf5_library_lock());
      if (!builder_) return write_checksums(path_, tensors_, checksums);  // a resumed run's reopened file
      builder_->write_checksums(checksums);
      builder_.reset();
    });
  }

  void finish() override {
    ready_structure();
    // HDF5's last writes (the checksums, or the whole structure) before the sync takes them to disk.
    mpi::run_agreed(comm_, [&] {
      if (!builder_) return;
      const std::lock_guard lock(hdf5_library_lock());
      builder_->close();
      builder_.reset();
    });
    file_.sync();
    file_.close();
    sync_direct();
    // A collective close need not synchronise: without this a rank could read the file before
    // another rank's last bytes have landed (seen under load at 4 ranks).
    comm_.barrier();
  }

 private:
  // Collective: the datasets' offsets from rank 0 once its thread has made them, or its error.
  void ready_structure() {
    if (ready_) return;
    structure_ = structure_from_root(comm_, [&] {
      return building_.get();  // not under the lock: the thread holds it until done
    });
    ready_ = true;
  }

  void sync_direct() {
    if (direct_) mpi::run_agreed(comm_, [&] { direct_->sync(); });
  }

  std::string path_;
  std::vector<TensorInfo> tensors_;
  const mpi::Comm& comm_;
  Structure structure_;
  bool ready_ = false;                       // structure_ holds the offsets
  std::optional<StructureBuilder> builder_;  // rank 0, the open file until its checksums
  std::future<Structure> building_;          // rank 0: builder_->build() on its thread
  mpi::File file_;
  std::optional<DirectFile> direct_;  // when writing direct
  std::vector<std::uint8_t> staging_;  // runs of small tensors written as one (storage/adjacent_runs.hpp)
};

}  // namespace

std::unique_ptr<CheckpointWriter> create_hdf5(const std::string& path,
                                              const std::vector<TensorInfo>& tensors,
                                              const mpi::Comm& comm, bool reopen, bool direct_writes) {
  return std::make_unique<Hdf5Writer>(path, tensors, comm, reopen, direct_writes);
}

}  // namespace mpimerge::storage::hdf5
