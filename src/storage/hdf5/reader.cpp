#include <algorithm>
#include <cstring>
#include <fstream>

#include "mpimerge/checksum.hpp"
#include "mpimerge/error.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/prefetch.hpp"
#include "storage/hdf5/parallel.hpp"
#include "storage/hdf5/types.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

class Hdf5Reader final : public CheckpointReader {
 public:
  Hdf5Reader(const std::string& path, const mpi::Comm& comm) : path_(path) {
    silence_hdf5_errors();
    PropertyList fapl = parallel_file_access(comm);
    file_ = FileHandle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()),
                       path + ": not a readable HDF5 file");
    std::vector<std::string> names;
    // In creation order where the file tracks it (mpimerge's files, h5py's with track_order=True),
    // otherwise by name.
    if (!tracks_creation_order() ||
        H5Ovisit2(file_.get(), H5_INDEX_CRT_ORDER, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC) < 0) {
      hdf5_error_detail();  // clears the stack of a failed attempt
      names.clear();
      check(H5Ovisit2(file_.get(), H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC),
            path + ": cannot list datasets");
    }
    for (const auto& name : names) open_dataset(name);
    keep_written_order();
    transfer_ = collective_transfer();
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string describe() const override { return "HDF5 file"; }

  void prefetch_rows(std::size_t index, RowRange rows) override {
    if (!offsets_[index]) return;
    const TensorInfo& t = tensors_[index];
    const std::uint64_t row_bytes = t.row_elements() * dtype_size(t.dtype);
    read_ahead_.will_need(*offsets_[index] + rows.begin * row_bytes, rows.count() * row_bytes);
  }

  void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) override {
    const TensorInfo& t = tensors_[index];
    RowSelection s = select_rows(datasets_[index].get(), t, rows);
    check(H5Dread(datasets_[index].get(), memory_types_[index].get(), s.memory.get(), s.file.get(),
                  transfer_.get(), out.data()),
          path_ + ": cannot read rows " + std::to_string(rows.begin) + ".." +
              std::to_string(rows.end) + " of tensor '" + t.name + "'");
  }

 private:
  bool tracks_creation_order() const {
    Handle<H5Gclose> root(H5Gopen2(file_.get(), "/", H5P_DEFAULT), path_ + ": cannot open the root group");
    PropertyList gcpl(H5Gget_create_plist(root.get()), path_ + ": H5Gget_create_plist");
    unsigned flags = 0;
    return H5Pget_link_creation_order(gcpl.get(), &flags) >= 0 && (flags & H5P_CRT_ORDER_TRACKED);
  }

  void open_dataset(const std::string& name) {
    DatasetHandle d(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT),
                    path_ + ": cannot open dataset '" + name + "'");
    TypeHandle type(H5Dget_type(d.get()), "H5Dget_type");
    std::string unsupported;
    const std::optional<DType> dtype = dtype_of(type.get(), unsupported);
    if (!dtype)
      throw InputError(path_ + ": tensor '" + name + "' has an unsupported type: " + unsupported);
    SpaceHandle space(H5Dget_space(d.get()), "H5Dget_space");
    if (H5Sget_simple_extent_type(space.get()) == H5S_NULL)
      throw InputError(path_ + ": tensor '" + name + "' has no dataspace (H5S_NULL)");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims");
    tensors_.push_back({name, *dtype, std::vector<std::uint64_t>(dims.begin(), dims.end())});
    // Read into the little-endian layout the program computes on; when the file's type already is
    // that layout (the normal case), HDF5 moves raw bytes and the transfer stays collective.
    memory_types_.push_back(hdf5_type_for(*dtype));
    checksums_.push_back(read_checksum(d.get()));
    // Where a dataset's bytes lie in the file as they are (contiguous, unfiltered): for read-ahead.
    const haddr_t offset = H5Dget_offset(d.get());
    hdf5_error_detail();  // a chunked dataset has no single offset: that is no error
    offsets_.push_back(offset == HADDR_UNDEF ? std::nullopt : std::optional<std::uint64_t>(offset));
    datasets_.push_back(std::move(d));
  }

  // Files mpimerge wrote number their datasets in the order of the checkpoint they came from.
  void keep_written_order() {
    std::vector<std::int64_t> position(datasets_.size());
    for (std::size_t i = 0; i < datasets_.size(); ++i) {
      if (H5Aexists(datasets_[i].get(), kOrderAttribute) <= 0) return;
      AttributeHandle a(H5Aopen(datasets_[i].get(), kOrderAttribute, H5P_DEFAULT), "H5Aopen");
      check(H5Aread(a.get(), H5T_NATIVE_INT64, &position[i]), path_ + ": cannot read a tensor's position");
    }
    std::vector<std::size_t> order(datasets_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return position[a] < position[b]; });
    auto permute = [&](auto& v) {
      std::remove_reference_t<decltype(v)> sorted;
      for (std::size_t i : order) sorted.push_back(std::move(v[i]));
      v = std::move(sorted);
    };
    permute(tensors_);
    permute(datasets_);
    permute(memory_types_);
    permute(checksums_);
    permute(offsets_);
  }

  // The checksum attribute, if the file records one on this dataset.
  std::optional<std::uint64_t> read_checksum(hid_t dataset) {
    if (H5Aexists(dataset, kChecksumAttribute) <= 0) return std::nullopt;
    AttributeHandle a(H5Aopen(dataset, kChecksumAttribute, H5P_DEFAULT), "H5Aopen");
    TypeHandle text(H5Tcopy(H5T_C_S1), "H5Tcopy");
    check(H5Tset_size(text.get(), 16), "H5Tset_size");
    std::string hex(16, '\0');
    check(H5Aread(a.get(), text.get(), hex.data()), path_ + ": cannot read a checksum attribute");
    if (hex == std::string(16, '0')) return std::nullopt;  // created, never filled in
    return parse_checksum_hex(hex);
  }

 public:
  std::optional<std::uint64_t> stored_checksum(std::size_t index) const override { return checksums_[index]; }

 private:

  std::string path_;
  FileHandle file_;  // declared first: closed after the datasets
  std::vector<TensorInfo> tensors_;
  std::vector<DatasetHandle> datasets_;
  std::vector<TypeHandle> memory_types_;
  std::vector<std::optional<std::uint64_t>> checksums_;
  std::vector<std::optional<std::uint64_t>> offsets_;
  ReadAhead read_ahead_{path_};
  PropertyList transfer_;
};

}  // namespace

bool looks_like_hdf5(const std::string& path) {
  static constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  return in.read(head, sizeof head) && std::memcmp(head, kSignature, sizeof head) == 0;
}

std::unique_ptr<CheckpointReader> open_hdf5(const std::string& path, const mpi::Comm& comm) {
  return std::make_unique<Hdf5Reader>(path, comm);
}

}  // namespace mpimerge::storage::hdf5
