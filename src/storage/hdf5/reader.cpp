// The HDF5 reader. The ranks read the file's metadata side by side, with serial HDF5, each a share
// of the datasets (catalog.hpp), and check it whole; every rank gets the same catalog or the same
// error. Tensors stored as plain byte
// ranges (contiguous, unfiltered, little-endian: mpimerge's files and h5py's defaults) are then read
// with collective MPI-IO, as safetensors are; the others (chunked, compressed, compact, big-endian)
// by each rank through its own serial HDF5 handle, independently. No HDF5 call is collective, so
// an HDF5 error on one rank cannot leave another waiting: every read ends with the ranks agreeing
// on its outcome, and a file that shrinks while it is read is an error, never zeros.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/file.hpp"
#include "storage/hdf5/catalog.hpp"
#include "storage/hdf5/handle.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/adjacent_runs.hpp"
#include "storage/first_defect.hpp"
#include "storage/input_file.hpp"
#include "storage/message.hpp"
#include "storage/prefetch.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

// At most this many ranks read an HDF5 file's metadata: each opens the file and reads its share of
// the object headers, and a parallel file system should see that a few times, not once per rank of
// a thousand.
constexpr std::uint64_t kCatalogReaders = 8;

// A batch's small tensors are read as runs that step over gaps up to this size: HDF5 puts each
// dataset's object header (a few hundred bytes) before its bytes, so a file of small datasets
// has no two side by side, and reading a header costs less than one more read call per tensor.
constexpr std::uint64_t kReadGapBytes = 4096;

// Collective. The two listings of catalog.hpp, each made by rank 0 and sent to every rank; of R =
// min(ranks, kCatalogReaders) readers, rank r reads the objects at positions r, r + R, ... of a
// listing and sends its part to every rank: a checkpoint of 100k datasets costs each reader its
// share of the per-dataset HDF5 calls. On a defect, every rank throws the error of the first
// defective object in the listing, whichever rank met it.
Catalog read_catalog_spread(const std::string& path, bool checksums, const mpi::Comm& comm) {
  const auto readers = std::min<std::uint64_t>(static_cast<std::uint64_t>(comm.size()), kCatalogReaders);
  const auto rank = static_cast<std::uint64_t>(comm.rank());
  std::optional<FileHandle> file;
  struct CloseLocked {  // however this returns
    std::optional<FileHandle>& file;
    ~CloseLocked() {
      const std::lock_guard lock(hdf5_library_lock());
      file.reset();
    }
  } close_locked{file};
  std::uint64_t file_size = 0;
  // f on this rank; its first defect, or any other error (the file as a whole), reaches every rank.
  auto agreed = [&](auto&& f) {
    std::optional<Defect> defect;
    try {
      const std::lock_guard lock(hdf5_library_lock());
      if (!file) {
        file.emplace(open_serial(path), path);
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) throw InputError(path + ": cannot be read: " + std::strerror(errno));
        file_size = static_cast<std::uint64_t>(st.st_size);
      }
      f();
    } catch (const CatalogDefect& e) {
      defect = Defect{e.position, e.what()};
    } catch (const std::exception& e) {
      defect = Defect{0, e.what()};
    }
    agree_on_first_defect(comm, defect);
  };
  const CatalogSteps steps{
      [&](bool whole) {
        std::vector<std::uint8_t> bytes;
        if (rank == 0)
          agreed([&] {
            for (const ListedObject& object : whole ? list_datasets(file->get(), path) : list_root(file->get(), path)) {
              put_text(bytes, object.name);
              put_number(bytes, object.address);
            }
          });
        else
          agree_on_first_defect(comm, std::nullopt);
        comm.broadcast(bytes, 0);
        Listing listing;
        for (MessageFields in(bytes, path + ": dataset listing"); !in.done();) {
          std::string name = in.text();
          listing.push_back({std::move(name), in.number()});
        }
        return listing;
      },
      [&](const Listing& names) {
        std::vector<std::uint8_t> mine;
        if (rank < readers)
          agreed([&] {
            mine = encode_catalog_part(read_catalog_part(file->get(), path, file_size, checksums, names, rank, readers));
          });
        else
          agree_on_first_defect(comm, std::nullopt);
        std::vector<CatalogPart> parts;
        for (std::uint64_t r = 0; r < readers; ++r) {
          std::vector<std::uint8_t> bytes = r == rank ? mine : std::vector<std::uint8_t>();
          comm.broadcast(bytes, static_cast<int>(r));
          parts.push_back(decode_catalog_part(bytes));
        }
        return parts;
      }};
  Catalog catalog = assemble_catalog(steps, 0);
  // Each reader checked its datasets against the size it saw; a file that changes while it is
  // read is caught by every later read (PinnedSize).
  std::uint64_t sizes[1] = {file_size};
  comm.max(std::span<std::uint64_t>(sizes));
  catalog.file_size = sizes[0];
  return catalog;
}

class Hdf5Reader final : public CheckpointReader {
 public:
  Hdf5Reader(const std::string& path, const mpi::Comm& comm, bool checksums) : path_(path), comm_(comm) {
    catalog_ = read_catalog_spread(path, checksums, comm);
    bool any_raw = false;
    for (const CatalogTensor& t : catalog_.tensors) {
      tensors_.push_back(t.info);
      any_raw = any_raw || t.access == Access::raw;
    }
    // Each rank holds the file to the size rank 0 checked the catalog against.
    mpi::run_agreed(comm, [&] { pinned_.emplace(path, catalog_.file_size); });
    if (any_raw) file_ = mpi::File::open_read(comm, path);
  }

  ~Hdf5Reader() override {
    const std::lock_guard lock(hdf5_library_lock());
    serial_.reset();
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string describe() const override { return "HDF5 file"; }
  std::optional<std::uint64_t> stored_checksum(std::size_t index) const override {
    return catalog_.tensors[index].checksum;
  }

  void prefetch_rows(std::size_t index, RowRange rows) override {
    const CatalogTensor& t = catalog_.tensors[index];
    if (t.access != Access::raw) return;
    const std::uint64_t row_bytes = t.info.row_elements() * dtype_size(t.info.dtype);
    read_ahead_.will_need(t.offset + rows.begin * row_bytes, rows.count() * row_bytes);
  }

  void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) override {
    const CatalogTensor& t = catalog_.tensors[index];
    if (t.access == Access::none) return;  // no elements: the same on every rank, nothing to agree on
    const std::uint64_t row_bytes = t.info.row_elements() * dtype_size(t.info.dtype);
    pinned_->before_read(comm_.rank());
    if (t.access == Access::raw) {
      file_.read_at_all(t.offset + rows.begin * row_bytes, out.first(rows.count() * row_bytes),
                        [&] { pinned_->check(); });
      return;
    }
    mpi::run_agreed(comm_, [&] { read_serial(t, rows, out); });
  }

  // Small raw tensors independently, and every Access::hdf5 tensor through this rank's serial
  // handle, then one agreement for the batch; large raw tensors collectively, as read_rows does.
  void read_rows_batch(std::span<const RowRead> reads) override {
    std::exception_ptr error;
    std::vector<FilePiece> pieces;  // small raw tensors: runs of neighbours read as one
    for (std::size_t i = 0; i < reads.size(); ++i) {
      const RowRead& r = reads[i];
      const CatalogTensor& t = catalog_.tensors[r.index];
      if (t.access == Access::none) continue;
      if (t.access == Access::raw && t.info.bytes() > kBatchedTensorBytes) {
        read_rows(r.index, r.rows, r.out);
        continue;
      }
      if (error) continue;
      try {
        if (t.access == Access::raw) {
          const std::uint64_t row_bytes = t.info.row_elements() * dtype_size(t.info.dtype);
          if (!r.rows.empty()) pieces.push_back({0, t.offset + r.rows.begin * row_bytes, r.rows.count() * row_bytes, i});
        } else {
          pinned_->before_read(comm_.rank());
          read_serial(t, r.rows, r.out);
        }
      } catch (...) {
        error = std::current_exception();
      }
    }
    try {
      if (!error)
        for_each_adjacent_run(
            pieces,
            [&](std::span<const FilePiece> run) {
              for (std::size_t k = 0; k < run.size(); ++k) pinned_->before_read(comm_.rank());
              read_run(run, staging_, [&](std::uint64_t offset, std::span<std::uint8_t> out) { file_.read_at(offset, out); },
                       [&](std::size_t item) { return reads[item].out; });
            },
            kAdjacentRunBytes, kReadGapBytes);
    } catch (...) {
      error = std::current_exception();
    }
    // The file's size once for the batch, after its reads; a read past a truncated file's end
    // fails first, and the shrink is the cause to name.
    try {
      pinned_->check();
    } catch (...) {
      error = std::current_exception();
    }
    comm_.agree(error);
  }

 private:
  void read_serial(const CatalogTensor& t, RowRange rows, std::span<std::uint8_t> out) {
    if (rows.empty()) return;
    const std::lock_guard lock(hdf5_library_lock());
    if (!serial_) serial_ = FileHandle(open_serial(path_), path_);
    read_rows_hdf5(serial_.get(), path_, t.info, rows, out);
    pinned_->check();
  }

  std::string path_;
  const mpi::Comm& comm_;
  Catalog catalog_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::uint8_t> staging_;  // runs of small tensors read as one (at most kAdjacentRunBytes)
  std::optional<PinnedSize> pinned_;
  mpi::File file_;      // for Access::raw tensors
  FileHandle serial_;   // for Access::hdf5 tensors, opened on first use
  ReadAhead read_ahead_{path_};
};

}  // namespace

bool looks_like_hdf5(const std::string& path) {
  // The signature starts the superblock, at byte 0 or, after a user block, at 512, 1024, 2048...
  static constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::ifstream in(path, std::ios::binary);
  for (std::uint64_t at = 0; in && at + sizeof kSignature <= size; at = at == 0 ? 512 : at * 2) {
    char head[sizeof kSignature] = {};
    in.seekg(static_cast<std::streamoff>(at));
    if (in.read(head, sizeof head) && std::memcmp(head, kSignature, sizeof head) == 0) return true;
  }
  return false;
}

std::unique_ptr<CheckpointReader> open_hdf5(const std::string& path, const mpi::Comm& comm, bool checksums) {
  return std::make_unique<Hdf5Reader>(path, comm, checksums);
}

}  // namespace mpimerge::storage::hdf5
