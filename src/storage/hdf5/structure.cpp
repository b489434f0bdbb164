#include "storage/hdf5/structure.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "mpimerge/checksum.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/util/disk_space.hpp"
#include "storage/hdf5/handle.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/hdf5/types.hpp"
#include "storage/message.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

// Objects of at least 1 MiB start on 1 MiB boundaries, the common parallel file-system stripe.
constexpr hsize_t kAlignment = hsize_t{1} << 20;

// The bytes each group's local heap needs for its members' names (NUL-terminated, 8-byte aligned,
// after the empty name at offset 0). Sizing the heaps up front keeps HDF5 from moving a heap as it
// grows: a moved heap leaves its old block in the file, holding whatever the metadata cache had
// flushed there, and the same inputs would no longer give the same bytes.
std::map<std::string, std::size_t> name_heap_sizes(std::span<const TensorInfo> tensors) {
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

// Object headers are packed into metadata blocks of this size at most (below kAlignment, so a block
// is never aligned itself), so that small datasets' bytes lie side by side instead of each behind
// its own header: the ranks then write a run of small tensors as one write (O_DIRECT when it is
// large), and rank 0 flushes the headers as a few large writes. 100k tensors: 67 breaks in the data
// instead of one per dataset.
constexpr std::uint64_t kMaxMetadataBlockBytes = std::uint64_t{512} << 10;

// About 1 KiB of headers per dataset (with its two attributes), in 4 KiB steps: a small output
// keeps a small block, whose unused tail is never written (a hole, read back as zeros).
std::uint64_t metadata_block_bytes(std::size_t datasets) {
  const std::uint64_t wanted = (static_cast<std::uint64_t>(datasets) * 1024 + 4095) / 4096 * 4096;
  return std::clamp<std::uint64_t>(wanted, 4096, kMaxMetadataBlockBytes);
}

// Serial access (sec2) without HDF5's file lock: rank 0 keeps the output open from its creation to
// its checksums while every rank writes tensor bytes around HDF5, and on NFS flock(2) is emulated
// with the fcntl locks ROMIO takes around each write, so the ranks would wait on rank 0 forever.
// One writer per output is mpimerge's own lock beside it (durability/output_lock.hpp).
// meta_block_bytes: 0 where nothing is allocated (reopening).
PropertyList serial_file_access(std::uint64_t meta_block_bytes = 0) {
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(file access)");
  check(H5Pset_fapl_sec2(fapl.get()), "H5Pset_fapl_sec2");
  check(H5Pset_file_locking(fapl.get(), 0, 1), "H5Pset_file_locking");
  check(H5Pset_alignment(fapl.get(), kAlignment, kAlignment), "H5Pset_alignment");
  check(H5Pset_small_data_block_size(fapl.get(), 0), "H5Pset_small_data_block_size");
  check(H5Pset_meta_block_size(fapl.get(), meta_block_bytes), "H5Pset_meta_block_size");
  // HDF5's default metadata cache (at most 32 MiB) fills up with the object headers of a few
  // ten thousand datasets; past that, every new object scans the cache for room and flushes
  // evicted entries, the root group's name heap among them, again and again (100k tensors: minutes,
  // not seconds). Every object is written once, so the cache holds them all and H5Fclose writes each
  // once: about 1 KB per tensor.
  H5AC_cache_config_t cache{};
  cache.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  check(H5Pget_mdc_config(fapl.get(), &cache), "H5Pget_mdc_config");
  cache.evictions_enabled = false;
  cache.incr_mode = H5C_incr__off;
  cache.flash_incr_mode = H5C_flash_incr__off;
  cache.decr_mode = H5C_decr__off;
  check(H5Pset_mdc_config(fapl.get(), &cache), "H5Pset_mdc_config");
  return fapl;
}

// H5Fclose leaves the metadata in the page cache. The writer's own syncs (before each journal
// record and at the end) take it to disk with the tensors' bytes; create_structure syncs itself.
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  const int why = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw Error(path + ": cannot sync: " + std::strerror(why) + disk_full_note(path));
}

TypeHandle checksum_text_type() {
  TypeHandle text(H5Tcopy(H5T_C_S1), "H5Tcopy");
  check(H5Tset_size(text.get(), 16), "H5Tset_size");
  return text;
}

// Small attributes written with each dataset, in its object header from the start, so that none
// grows later: its position in the checkpoint's tensor order (a Hugging Face checkpoint's order
// survives a conversion; the groups themselves list members by name), and a checksum that
// write_checksums fills in (16 zeros until then: none recorded).
template <class What>
AttributeHandle write_attribute(hid_t object, const char* name, hid_t type, hid_t scalar, const void* value,
                                What&& what) {
  AttributeHandle a(H5Acreate2(object, name, type, scalar, H5P_DEFAULT, H5P_DEFAULT), what);
  check(H5Awrite(a.get(), type, value), what);
  return a;
}

// One for every dataset (made once: 100k property lists cost a quarter of the creations).
PropertyList dataset_creation() {
  PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(dataset)");
  check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "H5Pset_layout");
  // Every byte is written by some rank: skip the fill pass. No timestamps, so that the same
  // inputs give the same bytes.
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
  check(H5Pset_obj_track_times(dcpl.get(), 0), "H5Pset_obj_track_times");
  return dcpl;
}

// Fills in an open checksum attribute, the name and path for errors alone.
void write_checksum(hid_t attribute, hid_t text, std::uint64_t checksum, const std::string& path,
                    const std::string& name) {
  const std::string hex = checksum_hex(checksum);
  check(H5Awrite(attribute, text, hex.data()), [&] { return path + ": cannot write the checksum of '" + name + "'"; });
}

// Where a dataset's bytes lie: its offset and the end of its storage (0, 0 without elements).
std::pair<std::uint64_t, std::uint64_t> extent_of(hid_t dataset) {
  const haddr_t offset = H5Dget_offset(dataset);
  if (offset == HADDR_UNDEF) return {0, 0};
  return {offset, offset + H5Dget_storage_size(dataset)};
}

FileHandle open_written(const std::string& path, unsigned mode, const std::string& what) {
  return FileHandle(H5Fopen(path.c_str(), mode, serial_file_access().get()), path + ": " + what);
}

}  // namespace

class StructureWriter {
 public:
  // Creates the file (replacing any there).
  StructureWriter(const std::string& path, std::span<const TensorInfo> tensors)
      : path_(path), tensors_(tensors), heap_bytes_(name_heap_sizes(tensors)) {
    silence_hdf5_errors();
    PropertyList fcpl(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate(file create)");
    check(H5Pset_local_heap_size_hint(fcpl.get(), heap_bytes_[""]), "H5Pset_local_heap_size_hint");
    file_ = FileHandle(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, fcpl.get(),
                                 serial_file_access(metadata_block_bytes(tensors.size())).get()),
                       path_ + ": cannot create HDF5 file");
  }

  Structure create() {
    const TypeHandle checksum_type = checksum_text_type();
    const SpaceHandle scalar(H5Screate(H5S_SCALAR), "H5Screate");
    const std::string none(16, '0');
    Structure s;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      const TensorInfo& t = tensors_[i];
      create_parent_groups(t.name);
      const DatasetHandle d = create_dataset(t);
      const std::int64_t position = static_cast<std::int64_t>(i);
      write_attribute(d.get(), kOrderAttribute, H5T_STD_I64LE, scalar.get(), &position,
                      [&] { return path_ + ": cannot order '" + t.name + "'"; });
      checksums_.push_back(write_attribute(d.get(), kChecksumAttribute, checksum_type.get(), scalar.get(), none.data(),
                                           [&] { return path_ + ": cannot add a checksum to '" + t.name + "'"; }));
      const auto [offset, end] = extent_of(d.get());
      s.data_offsets.push_back(offset);
      s.data_end = std::max(s.data_end, end);
    }
    // On disk (in the page cache) before any tensor byte, the file left open: its object headers
    // stay in HDF5's cache for the checksums, which otherwise reopen the file and read all 100k of
    // them back (4-8 s for 100k tensors against about 2 s).
    check(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), [&] { return path_ + ": cannot write the structure"; });
    return s;
  }

  void write_checksums(std::span<const std::uint64_t> checksums) {
    const TypeHandle text = checksum_text_type();
    for (std::size_t i = 0; i < checksums_.size() && i < checksums.size(); ++i)
      write_checksum(checksums_[i].get(), text.get(), checksums[i], path_, tensors_[i].name);
    close();
  }

  void close() {
    checksums_.clear();  // before the file: HDF5 closes a file only once nothing in it is open
    if (file_) file_.close(path_ + ": cannot close");
  }

 private:
  // Nested names ("encoder/layer.0/weight") live in groups, created without timestamps.
  void create_parent_groups(const std::string& name) {
    for (std::size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
      const std::string group = name.substr(0, slash);
      if (!made_groups_.insert(group).second) continue;
      PropertyList gcpl(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate(group)");
      check(H5Pset_obj_track_times(gcpl.get(), 0), "H5Pset_obj_track_times");
      check(H5Pset_local_heap_size_hint(gcpl.get(), heap_bytes_[group]), "H5Pset_local_heap_size_hint");
      Handle<H5Gclose> g(H5Gcreate2(file_.get(), group.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                         path_ + ": cannot create group '" + group + "'");
    }
  }

  DatasetHandle create_dataset(const TensorInfo& t) {
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    SpaceHandle space(t.shape.empty() ? H5Screate(H5S_SCALAR)
                                      : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "H5Screate");
    return DatasetHandle(H5Dcreate2(file_.get(), t.name.c_str(), types_.of(t.dtype), space.get(), H5P_DEFAULT,
                                    dcpl_.get(), H5P_DEFAULT),
                         [&] { return path_ + ": cannot create dataset '" + t.name + "'"; });
  }

  const std::string& path_;
  std::span<const TensorInfo> tensors_;
  std::map<std::string, std::size_t> heap_bytes_;  // by group path, "" for the root
  std::set<std::string> made_groups_;
  PropertyList dcpl_ = dataset_creation();
  ProgramTypes types_;
  FileHandle file_;
  // Each dataset's checksum attribute, in tensors_' order, held open from its creation: writing
  // 100k of them through open handles takes a quarter of the time of opening each dataset again
  // (about 20 MB for 100k handles). Declared after file_, so destroyed before it.
  std::vector<AttributeHandle> checksums_;
};

StructureBuilder::StructureBuilder(const std::string& path, std::span<const TensorInfo> tensors)
    : writer_(std::make_unique<StructureWriter>(path, tensors)) {}

StructureBuilder::~StructureBuilder() = default;

Structure StructureBuilder::build() { return writer_->create(); }

void StructureBuilder::write_checksums(std::span<const std::uint64_t> checksums) {
  writer_->write_checksums(checksums);
}

void StructureBuilder::close() { writer_->close(); }

Structure create_structure(const std::string& path, std::span<const TensorInfo> tensors) {
  StructureBuilder builder(path, tensors);
  const Structure s = builder.build();
  builder.close();
  sync_file(path);
  return s;
}

Structure open_structure(const std::string& path, std::span<const TensorInfo> tensors) {
  silence_hdf5_errors();
  FileHandle file = open_written(path, H5F_ACC_RDONLY, "cannot reopen to resume");
  Structure s;
  for (const TensorInfo& t : tensors) {
    DatasetHandle d(H5Dopen2(file.get(), t.name.c_str(), H5P_DEFAULT),
                    [&] { return path + ": the interrupted output lacks tensor '" + t.name + "'"; });
    SpaceHandle space(H5Dget_space(d.get()), "H5Dget_space");
    std::vector<hsize_t> dims(t.shape.size());
    if (H5Sget_simple_extent_ndims(space.get()) != static_cast<int>(dims.size()) ||
        H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0 ||
        !std::equal(dims.begin(), dims.end(), t.shape.begin()))
      throw InputError(path + ": tensor '" + t.name + "' of the interrupted output has another shape");
    const auto [offset, end] = extent_of(d.get());
    s.data_offsets.push_back(offset);
    s.data_end = std::max(s.data_end, end);
  }
  return s;
}

void write_checksums(const std::string& path, std::span<const TensorInfo> tensors,
                     std::span<const std::uint64_t> checksums) {
  silence_hdf5_errors();
  FileHandle file = open_written(path, H5F_ACC_RDWR, "cannot reopen to record the checksums");
  const TypeHandle text = checksum_text_type();
  for (std::size_t i = 0; i < tensors.size() && i < checksums.size(); ++i) {
    const std::string& name = tensors[i].name;
    const DatasetHandle d(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT),
                          [&] { return path + ": cannot open dataset '" + name + "'"; });
    const AttributeHandle a(H5Aopen(d.get(), kChecksumAttribute, H5P_DEFAULT),
                            [&] { return path + ": tensor '" + name + "' has no checksum attribute"; });
    write_checksum(a.get(), text.get(), checksums[i], path, name);
  }
  file.close(path + ": cannot close");
}

std::vector<std::uint8_t> encode_structure(const Structure& structure) {
  std::vector<std::uint8_t> out;
  put_number(out, structure.data_end);
  put_number(out, structure.data_offsets.size());
  for (const std::uint64_t offset : structure.data_offsets) put_number(out, offset);
  return out;
}

Structure decode_structure(std::span<const std::uint8_t> bytes) {
  MessageFields in(bytes, "HDF5 structure");
  Structure s;
  s.data_end = in.number();
  const std::uint64_t count = in.number();
  for (std::uint64_t i = 0; i < count && !in.done(); ++i) s.data_offsets.push_back(in.number());
  in.finish();
  if (s.data_offsets.size() != count) throw Error("HDF5 structure: truncated message");
  return s;
}

}  // namespace mpimerge::storage::hdf5
