#include <algorithm>
#include <exception>
#include <map>
#include <set>

#include "mpimerge/checksum.hpp"
#include "mpimerge/util/disk_space.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/file.hpp"
#include "storage/batched_writes.hpp"
#include "storage/direct_file.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/hdf5/names.hpp"
#include "storage/hdf5/parallel.hpp"
#include "storage/hdf5/rows.hpp"
#include "storage/hdf5/types.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

// Objects of at least 1 MiB start on 1 MiB boundaries, the common parallel file-system stripe.
constexpr hsize_t kAlignment = hsize_t{1} << 20;

// The bytes each group's local heap needs for its members' names (NUL-terminated, 8-byte aligned,
// after the empty name at offset 0). Sizing the heaps up front keeps HDF5 from moving a heap as it
// grows: a moved heap leaves its old block in the file, holding whatever the metadata cache had
// flushed there, and the same inputs would no longer give the same bytes.
std::map<std::string, std::size_t> name_heap_sizes(const std::vector<TensorInfo>& tensors) {
  std::map<std::string, std::set<std::string>> members;  // group -> direct member names
  members[""];
  for (const TensorInfo& t : tensors) {
    std::string group;
    std::size_t start = 0;
    for (std::size_t slash = t.name.find('/'); slash != std::string::npos; slash = t.name.find('/', start)) {
      members[group].insert(t.name.substr(start, slash - start));
      group = t.name.substr(0, slash);
      start = slash + 1;
    }
    members[group].insert(t.name.substr(start));
  }
  std::map<std::string, std::size_t> bytes;
  for (const auto& [group, names] : members) {
    std::size_t total = 8;
    for (const auto& name : names) total += (name.size() + 1 + 7) / 8 * 8;
    bytes[group] = total + 32;  // HDF5 grows a heap that would be left with less than a free block
  }
  return bytes;
}

// Small attributes written with each dataset, in its object header from the start, so that none
// grows later: its position in the checkpoint's tensor order (a Hugging Face checkpoint's order
// survives a conversion; the groups themselves list members by name), and a checksum that
// set_checksums fills in (16 zeros until then: none recorded).
void write_attribute(hid_t object, const char* name, hid_t type, const void* value, const std::string& what) {
  SpaceHandle scalar(H5Screate(H5S_SCALAR), "H5Screate");
  AttributeHandle a(H5Acreate2(object, name, type, scalar.get(), H5P_DEFAULT, H5P_DEFAULT), what);
  check(H5Awrite(a.get(), type, value), what);
}

TypeHandle checksum_text_type() {
  TypeHandle text(H5Tcopy(H5T_C_S1), "H5Tcopy");
  check(H5Tset_size(text.get(), 16), "H5Tset_size");
  return text;
}

class Hdf5Writer final : public CheckpointWriter {
 public:
  Hdf5Writer(const std::string& path, const std::vector<TensorInfo>& tensors, const mpi::Comm& comm, bool reopen,
             bool direct_writes)
      : path_(path), tensors_(tensors), comm_(comm) {
    silence_hdf5_errors();
    // Before the file exists: the same on every rank, from the names and shapes alone.
    if (const std::string problem = unwritable_in_hdf5(tensors); !problem.empty())
      throw InputError("an HDF5 output cannot hold " + problem +
                       "; write a .safetensors file or a Hugging Face directory instead");
    if (reopen)
      open_existing(comm);
    else
      create_file(comm);
    for (const DatasetHandle& d : datasets_) {
      const haddr_t offset = H5Dget_offset(d.get());
      data_offsets_.push_back(offset == HADDR_UNDEF ? 0 : offset);
    }
    small_writes_ = mpi::File::open_write(comm, path_);
    if (direct_writes) open_direct();
  }

  const std::vector<TensorInfo>& tensors() const override { return tensors_; }

  void write_rows(std::size_t index, RowRange rows, std::span<const std::uint8_t> data) override {
    const TensorInfo& t = tensors_[index];
    // A tensor without elements ([5, 0]) has no storage, not even an address: HDF5 refuses any
    // transfer to it. Nothing to write, decided from the shape alike on every rank.
    if (t.elements() == 0) return;
    if (direct_) {
      const std::uint64_t row_bytes = t.row_elements() * dtype_size(t.dtype);
      mpi::run_agreed(comm_, [&] {
        direct_->write_at(data_offsets_[index] + rows.begin * row_bytes, data.first(rows.count() * row_bytes));
      });
      return;
    }
    RowSelection s = select_rows(datasets_[index].get(), t, rows);
    agreed(H5Dwrite(datasets_[index].get(), types_[index].get(), s.memory.get(), s.file.get(), transfer_.get(),
                    data.data()),
           path_ + ": cannot write tensor '" + t.name + "'");
  }

  // Small tensors' rows go straight to their datasets' bytes (contiguous, allocated early, at
  // known offsets that HDF5 itself never writes: no fill values), each rank its own pieces with
  // independent MPI-IO or O_DIRECT writes, then one agreement for the batch. The same bytes an
  // H5Dwrite puts there (memory type = file type), without one collective call per tensor.
  // Larger tensors as write_rows does, in the batch's order.
  void write_rows_batch(std::span<const RowWrite> writes) override {
    write_batch(
        writes, tensors_, comm_, [&](std::size_t) { return path_; }, [&](std::size_t index) { return data_offsets_[index]; },
        [&](std::size_t, std::uint64_t at, std::span<const std::uint8_t> bytes) {
          if (direct_) direct_->write_at(at, bytes);
          else small_writes_.write_at(at, bytes);
        },
        [&](const RowWrite& w) { write_rows(w.index, w.rows, w.data); });
  }

  bool writes_direct() const override { return direct_.has_value(); }

  void flush() override {
    agreed(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), path_ + ": cannot flush");
    small_writes_.sync();
    sync_direct();
  }

  // A 16-character hex string attribute, "mpimerge_checksum", on every dataset.
  void set_checksums(std::span<const std::uint64_t> checksums) override {
    const TypeHandle text = checksum_text_type();
    for (std::size_t i = 0; i < datasets_.size() && i < checksums.size(); ++i) {
      const std::string hex = checksum_hex(checksums[i]);
      AttributeHandle a(H5Aopen(datasets_[i].get(), kChecksumAttribute, H5P_DEFAULT),
                        path_ + ": tensor '" + tensors_[i].name + "' has no checksum attribute");
      agreed(H5Awrite(a.get(), text.get(), hex.data()), path_ + ": cannot write the checksum of '" + tensors_[i].name + "'");
    }
  }

  void finish() override {
    mpi::run_agreed(comm_, [&] {
      for (auto& d : datasets_) d.close(path_ + ": cannot close a dataset");
    });
    agreed(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), path_ + ": cannot flush");
    small_writes_.sync();
    small_writes_.close();
    mpi::run_agreed(comm_, [&] { file_.close(path_ + ": cannot close"); });
    sync_direct();
    // A collective close need not synchronise: without this a rank could read the file before
    // another rank's last bytes have landed (seen under load at 4 ranks).
    comm_.barrier();
  }

 private:
  void create_file(const mpi::Comm& comm) {
    PropertyList fapl = parallel_file_access(comm);
    check(H5Pset_alignment(fapl.get(), kAlignment, kAlignment), "H5Pset_alignment");
    check(H5Pset_small_data_block_size(fapl.get(), 0), "H5Pset_small_data_block_size");
    check(H5Pset_meta_block_size(fapl.get(), 0), "H5Pset_meta_block_size");
    group_heap_bytes_ = name_heap_sizes(tensors_);
    PropertyList fcpl(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate(file create)");
    check(H5Pset_local_heap_size_hint(fcpl.get(), group_heap_bytes_[""]), "H5Pset_local_heap_size_hint");
    file_ = FileHandle(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()),
                       path_ + ": cannot create HDF5 file");
    for (const TensorInfo& t : tensors_) {
      create_parent_groups(t.name);
      create_dataset(t);
    }
    // The file's structure is complete and on disk before any data: a killed run leaves a file
    // that a resumed one can reopen (later writes touch only the datasets' bytes).
    check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), path_ + ": cannot flush");
    reserve_data_space(comm);
    transfer_ = collective_transfer();
  }

  // Datasets are contiguous and allocated early, so each has a file offset; HDF5 itself never
  // writes there (no fill values), so its metadata I/O and the direct data writes never overlap.
  void open_direct() { direct_ = open_direct_on_all(path_, comm_); }

  void sync_direct() {
    if (direct_) mpi::run_agreed(comm_, [&] { direct_->sync(); });
  }

  // The datasets' bytes (allocated early, at known offsets) taken on disk before any is written:
  // a disk too small for the output fails here, on rank 0, with an error every rank agrees on.
  void reserve_data_space(const mpi::Comm& comm) {
    std::uint64_t end = 0;
    for (const DatasetHandle& d : datasets_) {
      const haddr_t offset = H5Dget_offset(d.get());
      if (offset != HADDR_UNDEF) end = std::max<std::uint64_t>(end, offset + H5Dget_storage_size(d.get()));
    }
    mpi::run_agreed(comm, [&] {
      if (comm.is_root()) reserve_space(path_, end);
    });
  }

  // After a collective call: its failure on any rank (a full disk fails only the ranks that write)
  // becomes the same error on every rank at once, so that no rank goes on to the next collective
  // call alone and the engine can remove the partial output.
  void agreed(herr_t status, const std::string& what) {
    mpi::run_agreed(comm_, [&] {
      if (status < 0) {
        const std::string detail = hdf5_error_detail();
        throw Error(what + (detail.empty() ? "" : ": " + detail) + disk_full_note(path_));
      }
    });
  }

  // The file an interrupted run created: every dataset must be there, as this writer would make it.
  void open_existing(const mpi::Comm& comm) {
    PropertyList fapl = parallel_file_access(comm);
    file_ = FileHandle(H5Fopen(path_.c_str(), H5F_ACC_RDWR, fapl.get()), path_ + ": cannot reopen to resume");
    for (const TensorInfo& t : tensors_) {
      DatasetHandle d(H5Dopen2(file_.get(), t.name.c_str(), H5P_DEFAULT),
                      path_ + ": the interrupted output lacks tensor '" + t.name + "'");
      SpaceHandle space(H5Dget_space(d.get()), "H5Dget_space");
      std::vector<hsize_t> dims(t.shape.size());
      if (H5Sget_simple_extent_ndims(space.get()) != static_cast<int>(dims.size()) ||
          H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0 ||
          !std::equal(dims.begin(), dims.end(), t.shape.begin()))
        throw InputError(path_ + ": tensor '" + t.name + "' of the interrupted output has another shape");
      types_.push_back(hdf5_type_for(t.dtype));
      datasets_.push_back(std::move(d));
    }
    transfer_ = collective_transfer();
  }

  // Nested names ("encoder/layer.0/weight") live in groups, created without timestamps.
  void create_parent_groups(const std::string& name) {
    for (std::size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      const std::string group = name.substr(0, slash);
      if (H5Lexists(file_.get(), group.c_str(), H5P_DEFAULT) > 0) continue;
      PropertyList gcpl(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate(group)");
      check(H5Pset_obj_track_times(gcpl.get(), 0), "H5Pset_obj_track_times");
      check(H5Pset_local_heap_size_hint(gcpl.get(), group_heap_bytes_[group]), "H5Pset_local_heap_size_hint");
      Handle<H5Gclose> g(H5Gcreate2(file_.get(), group.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                         path_ + ": cannot create group '" + group + "'");
    }
  }

  void create_dataset(const TensorInfo& t) {
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    SpaceHandle space(t.shape.empty() ? H5Screate(H5S_SCALAR)
                                      : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "H5Screate");
    PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(dataset)");
    check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "H5Pset_layout");
    // Every byte is written by some rank: skip the fill pass. No timestamps, so that the same
    // inputs give the same bytes.
    check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
    check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
    check(H5Pset_obj_track_times(dcpl.get(), 0), "H5Pset_obj_track_times");
    TypeHandle type = hdf5_type_for(t.dtype);
    datasets_.emplace_back(H5Dcreate2(file_.get(), t.name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                      dcpl.get(), H5P_DEFAULT),
                           path_ + ": cannot create dataset '" + t.name + "'");
    const std::int64_t position = static_cast<std::int64_t>(types_.size());
    write_attribute(datasets_.back().get(), kOrderAttribute, H5T_STD_I64LE, &position, path_ + ": cannot order '" + t.name + "'");
    const std::string none(16, '0');
    write_attribute(datasets_.back().get(), kChecksumAttribute, checksum_text_type().get(), none.data(),
                    path_ + ": cannot add a checksum to '" + t.name + "'");
    types_.push_back(std::move(type));
  }

  std::string path_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> group_heap_bytes_;  // by group path, "" for the root
  const mpi::Comm& comm_;
  FileHandle file_;  // declared before the datasets: closed after them
  std::vector<DatasetHandle> datasets_;
  std::vector<TypeHandle> types_;
  PropertyList transfer_;
  std::optional<DirectFile> direct_;
  std::vector<std::uint64_t> data_offsets_;  // per dataset, for direct and batched writes
  // A second MPI-IO handle on the file for batched small tensors' independent writes; closed
  // before HDF5's, after HDF5 has flushed its metadata (the two never touch the same bytes).
  mpi::File small_writes_;
};

}  // namespace

std::unique_ptr<CheckpointWriter> create_hdf5(const std::string& path,
                                              const std::vector<TensorInfo>& tensors,
                                              const mpi::Comm& comm, bool reopen, bool direct_writes) {
  return std::make_unique<Hdf5Writer>(path, tensors, comm, reopen, direct_writes);
}

}  // namespace mpimerge::storage::hdf5
