#include "storage/hdf5/catalog.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"
#include "storage/hdf5/hdf5_checkpoint.hpp"
#include "storage/hdf5/rows.hpp"
#include "storage/hdf5/types.hpp"
#include "storage/message.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

// Longest string attribute looked at: a checksum is 16 characters.
constexpr std::size_t kMaxTextAttributeBytes = 64;

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET) static_cast<Listing*>(data)->push_back({name, info->addr});
  return 0;
}

// Stops at the first link that leads out of the file (external or user-defined): the data behind
// it lies elsewhere, where h5py would follow it and this program does not.
herr_t find_foreign_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  if (info->type == H5L_TYPE_HARD || info->type == H5L_TYPE_SOFT) return 0;
  *static_cast<std::string*>(data) = name;
  return 1;
}

// The root's hard links, each object once (a second link to an object is passed over, as
// H5Ovisit passes it); stops at the first link that leads out of the file. Soft links lead to
// objects other links reach, or nowhere.
struct RootLinks {
  Listing objects;
  std::string foreign;
  std::unordered_set<haddr_t> seen;
};

herr_t collect_root_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  auto& links = *static_cast<RootLinks*>(data);
  if (info->type == H5L_TYPE_SOFT) return 0;
  if (info->type != H5L_TYPE_HARD) {
    links.foreign = name;
    return 1;
  }
  if (links.seen.insert(info->u.address).second) links.objects.push_back({name, info->u.address});
  return 0;
}

std::string foreign_link_error(const std::string& path, const std::string& link) {
  return path + ": '" + printable(link) +
         "' is an external link (its data lies in another file, which mpimerge does not follow)";
}

std::string class_text(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER: return "an integer";
    case H5T_FLOAT: return "a float";
    case H5T_STRING: return "a string";
    case H5T_ARRAY: return "an array type";
    case H5T_COMPOUND: return "a compound type";
    case H5T_VLEN: return "a variable-length sequence";
    case H5T_ENUM: return "an enum";
    case H5T_REFERENCE: return "a reference";
    case H5T_OPAQUE: return "an opaque type";
    case H5T_BITFIELD: return "a bitfield";
    case H5T_TIME: return "a time";
    default: return "of no valid type class";
  }
}

// The registered names of third-party filters seen in checkpoints, for files that do not record one
// (ids from The HDF Group's list of registered filter plugins).
std::string known_filter_name(H5Z_filter_t id) {
  switch (id) {
    case 307: return "bzip2";
    case 32000: return "lzf";
    case 32001: return "blosc";
    case 32004: return "lz4";
    case 32008: return "bitshuffle";
    case 32015: return "zstd";
    case 32026: return "blosc2";
    default: return "";
  }
}

class CatalogReader {
 public:
  CatalogReader(hid_t file, const std::string& path, std::uint64_t file_size, bool checksums)
      : file_(file), path_(path), checksums_(checksums) {
    catalog_.file_size = file_size;
  }

  Listing list_root() const {
    RootLinks links;
    try {
      // Creation order where the root tracks it; by name where it does not, or that index fails.
      if (!tracks_creation_order() ||
          H5Literate(file_, H5_INDEX_CRT_ORDER, H5_ITER_INC, nullptr, collect_root_link, &links) < 0) {
        hdf5_error_detail();  // clears the stack of a failed attempt
        links = RootLinks{};
        check(H5Literate(file_, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_root_link, &links),
              path_ + ": cannot list links");
      }
    } catch (const Error& e) {
      throw CatalogDefect(e.what(), 0);
    }
    if (!links.foreign.empty()) throw CatalogDefect(foreign_link_error(path_, links.foreign), 0);
    return std::move(links.objects);
  }

  Listing list() const {
    try {
      refuse_foreign_links();
      return dataset_names();
    } catch (const Error& e) {
      throw CatalogDefect(e.what(), 0);
    }
  }

  CatalogPart read_part(const Listing& listing, std::uint64_t part, std::uint64_t parts) {
    CatalogPart out;
    out.listed = listing.size();
    for (std::uint64_t i = part; i < listing.size(); i += parts) {
      const ListedObject& listed = listing[i];
      try {
        const ObjectHandle object(H5Oopen_by_addr(file_, listed.address),
                                  [&] { return path_ + ": cannot open dataset '" + printable(listed.name) + "'"; });
        switch (H5Iget_type(object.get())) {
          case H5I_DATASET:
            add_dataset(object.get(), listed.name);
            out.positions.push_back(i);
            break;
          case H5I_GROUP: out.groups.push_back(i); break;
          default: break;  // a named datatype
        }
      } catch (const Error& e) {
        throw CatalogDefect(e.what(), i);
      }
    }
    out.tensors = std::move(catalog_.tensors);
    out.order = std::move(order_);
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw InputError(path_ + ": tensor '" + printable(name) + "' " + what);
  }

  void refuse_foreign_links() const {
    std::string link;
    check(H5Lvisit(file_, H5_INDEX_NAME, H5_ITER_INC, find_foreign_link, &link), path_ + ": cannot list links");
    if (!link.empty()) throw InputError(foreign_link_error(path_, link));
  }

  bool tracks_creation_order() const {
    Handle<H5Gclose> root(H5Gopen2(file_, "/", H5P_DEFAULT), path_ + ": cannot open the root group");
    PropertyList gcpl(H5Gget_create_plist(root.get()), path_ + ": H5Gget_create_plist");
    unsigned flags = 0;
    return H5Pget_link_creation_order(gcpl.get(), &flags) >= 0 && (flags & H5P_CRT_ORDER_TRACKED);
  }

  // In creation order where the file tracks it (mpimerge's files, h5py's with track_order=True),
  // otherwise by name.
  Listing dataset_names() const {
    Listing names;
    if (!tracks_creation_order() ||
        H5Ovisit2(file_, H5_INDEX_CRT_ORDER, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC) < 0) {
      hdf5_error_detail();  // clears the stack of a failed attempt
      names.clear();
      check(H5Ovisit2(file_, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC),
            path_ + ": cannot list datasets");
    }
    return names;
  }

  void add_dataset(hid_t dataset, const std::string& name) {
    PropertyList dcpl(H5Dget_create_plist(dataset),
                      [&] { return path_ + ": cannot read the properties of '" + printable(name) + "'"; });
    const H5D_layout_t layout = check_storage(dcpl.get(), name);
    TypeHandle type(H5Dget_type(dataset),
                    [&] { return path_ + ": cannot read the type of '" + printable(name) + "'"; });
    std::string unsupported;
    const std::optional<DType> dtype = dtype_of(type.get(), unsupported);
    if (!dtype) fail(name, "has an unsupported type: " + unsupported);
    CatalogTensor t;
    t.info = {name, *dtype, shape_of(dataset, name)};
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(t.info.elements(), static_cast<std::uint64_t>(dtype_size(*dtype)), &bytes))
      fail(name, "is larger than 2^64 bytes");
    t.access = access_of(dataset, type.get(), layout, t, bytes);
    if (checksums_) t.checksum = read_checksum(dataset, name);
    order_.push_back(read_order(dataset, name));
    catalog_.tensors.push_back(std::move(t));
  }

  // The layout, and nothing that keeps the data outside the file or needs a filter HDF5 lacks.
  H5D_layout_t check_storage(hid_t dcpl, const std::string& name) const {
    const H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout == H5D_VIRTUAL)
      fail(name, "is a virtual dataset (its data lies in other files, which mpimerge does not read)");
    if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
      fail(name, "has an unknown storage layout (" + std::to_string(static_cast<int>(layout)) + ")");
    const int external = H5Pget_external_count(dcpl);
    if (external != 0)
      fail(name, "keeps its data in external files (external storage), which mpimerge does not read");
    const int filters = H5Pget_nfilters(dcpl);
    if (filters < 0) fail(name, "has an unreadable filter pipeline");
    for (int i = 0; i < filters; ++i) {
      unsigned flags = 0, config = 0;
      std::size_t values = 0;
      char text[64] = {};
      const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &values, nullptr,
                                             sizeof text, text, &config);
      if (id < 0) fail(name, "has an unreadable filter pipeline");
      text[sizeof text - 1] = '\0';  // a name as long as the buffer need not end in one
      const std::string name_of = text[0] ? printable(text, 40) : known_filter_name(id);
      const std::string filter = "filter " + std::to_string(id) + (name_of.empty() ? "" : " (" + name_of + ")");
      // H5Zfilter_avail also loads a plugin from HDF5_PLUGIN_PATH, where one is installed.
      unsigned info = 0;
      if (H5Zfilter_avail(id) <= 0 || H5Zget_filter_info(id, &info) < 0 || !(info & H5Z_FILTER_CONFIG_DECODE_ENABLED)) {
        hdf5_error_detail();
        fail(name, "is compressed with " + filter +
                       ", which this HDF5 library cannot decode (install its plugin in HDF5_PLUGIN_PATH, or "
                       "rewrite the file without it, e.g. h5repack -f NONE)");
      }
    }
    return layout;
  }

  std::vector<std::uint64_t> shape_of(hid_t dataset, const std::string& name) const {
    SpaceHandle space(H5Dget_space(dataset),
                      [&] { return path_ + ": cannot read the dataspace of '" + printable(name) + "'"; });
    switch (H5Sget_simple_extent_type(space.get())) {
      case H5S_SCALAR: return {};
      case H5S_SIMPLE: break;
      case H5S_NULL: fail(name, "has no elements at all (an H5S_NULL dataspace)");
      default: fail(name, "has an unreadable dataspace");
    }
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > H5S_MAX_RANK) fail(name, "has an unreadable dataspace");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr),
          [&] { return path_ + ": cannot read the shape of '" + printable(name) + "'"; });
    std::uint64_t elements = 1;
    for (const hsize_t n : dims)
      if (n != 0 && __builtin_mul_overflow(elements, static_cast<std::uint64_t>(n), &elements))
        fail(name, "has more than 2^64 elements");
    return {dims.begin(), dims.end()};
  }

  Access access_of(hid_t dataset, hid_t type, H5D_layout_t layout, CatalogTensor& t, std::uint64_t bytes) const {
    if (bytes == 0) return Access::none;
    const std::string& name = t.info.name;
    if (layout == H5D_COMPACT && H5Dget_storage_size(dataset) < bytes)
      fail(name, "holds " + std::to_string(H5Dget_storage_size(dataset)) + " bytes of compact data, but its shape and type need " +
                     std::to_string(bytes));
    if (layout != H5D_CONTIGUOUS) return Access::hdf5;
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    check(H5Dget_space_status(dataset, &status),
          [&] { return path_ + ": cannot read the storage of '" + printable(name) + "'"; });
    const haddr_t offset = H5Dget_offset(dataset);
    hdf5_error_detail();  // no offset is no error: a dataset never written reads as its fill value
    if (status == H5D_SPACE_STATUS_NOT_ALLOCATED || offset == HADDR_UNDEF) return Access::hdf5;
    const std::uint64_t stored = H5Dget_storage_size(dataset);
    if (stored < bytes)
      fail(name, "has " + std::to_string(stored) + " bytes of storage, but its shape and type need " + std::to_string(bytes));
    if (offset > catalog_.file_size || bytes > catalog_.file_size - offset)
      fail(name, "has its data at bytes " + std::to_string(offset) + ".." + std::to_string(offset + bytes) +
                     ", past the end of the file (" + std::to_string(catalog_.file_size) +
                     " bytes): the file is truncated or its data address is corrupt");
    t.offset = offset;
    // Raw bytes are the tensor's elements when the file's type is the program's little-endian one
    // (numpy bools: any enum of 0 and 1 over one byte); otherwise HDF5 converts them.
    if (t.info.dtype == DType::boolean) return Access::raw;
    return H5Tequal(type, wanted_types_.of(t.info.dtype)) > 0 ? Access::raw : Access::hdf5;
  }

  // Opens an attribute checked to hold exactly one value of the class expected, or nothing when
  // the dataset has none; refuses any other class, size or dataspace before anything is read.
  AttributeHandle open_single(hid_t dataset, const std::string& name, const char* attribute, H5T_class_t expected,
                              const std::string& expectation) const {
    const htri_t exists = H5Aexists(dataset, attribute);
    if (exists < 0) fail(name, std::string("has an unreadable attribute ") + attribute);
    if (exists == 0) return {};
    AttributeHandle a(H5Aopen(dataset, attribute, H5P_DEFAULT),
                      [&] { return path_ + ": cannot open attribute " + attribute; });
    TypeHandle type(H5Aget_type(a.get()), [&] { return path_ + ": cannot read the type of attribute " + attribute; });
    const H5T_class_t type_class = H5Tget_class(type.get());
    if (type_class != expected)
      fail(name, std::string("has an attribute ") + attribute + " that is " + class_text(type_class) + ", expected " + expectation);
    SpaceHandle space(H5Aget_space(a.get()),
                      [&] { return path_ + ": cannot read the dataspace of attribute " + attribute; });
    const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
    const hssize_t values = space_class == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space.get());
    if ((space_class != H5S_SCALAR && space_class != H5S_SIMPLE && space_class != H5S_NULL) || values != 1)
      fail(name, std::string("has an attribute ") + attribute + " of " + std::to_string(values < 0 ? 0 : values) +
                     " values, expected " + expectation);
    return a;
  }

  std::optional<std::int64_t> read_order(hid_t dataset, const std::string& name) const {
    const AttributeHandle a = open_single(dataset, name, kOrderAttribute, H5T_INTEGER, "one integer");
    if (!a) return std::nullopt;
    std::int64_t position = 0;  // HDF5 converts any integer size and byte order to this one
    check(H5Aread(a.get(), H5T_NATIVE_INT64, &position),
          [&] { return path_ + ": cannot read attribute " + kOrderAttribute; });
    return position;
  }

  std::optional<std::uint64_t> read_checksum(hid_t dataset, const std::string& name) const {
    static const std::string expected = "one string of 16 hexadecimal digits";
    const AttributeHandle a = open_single(dataset, name, kChecksumAttribute, H5T_STRING, expected);
    if (!a) return std::nullopt;
    TypeHandle type(H5Aget_type(a.get()), "H5Aget_type");
    std::string text;
    if (H5Tis_variable_str(type.get()) > 0) {
      char* value = nullptr;  // read with the file's own string type: no conversion
      check(H5Aread(a.get(), type.get(), &value),
            [&] { return path_ + ": cannot read attribute " + kChecksumAttribute; });
      if (value) {
        text.assign(value, strnlen(value, kMaxTextAttributeBytes + 1));
        H5free_memory(value);
      }
    } else {
      const std::size_t size = H5Tget_size(type.get());
      if (size == 0 || size > kMaxTextAttributeBytes)
        fail(name, std::string("has an attribute ") + kChecksumAttribute + " of " + std::to_string(size) +
                       " characters, expected " + expected);
      text.assign(size, '\0');
      check(H5Aread(a.get(), type.get(), text.data()),
            [&] { return path_ + ": cannot read attribute " + kChecksumAttribute; });
    }
    while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();  // NUL or space padding
    if (text.size() != 16 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
      fail(name, std::string("has an attribute ") + kChecksumAttribute + " '" + printable(text, 32) +
                     "' that is not 16 lower-case hexadecimal digits");
    if (text == std::string(16, '0')) return std::nullopt;  // created, never filled in
    return std::stoull(text, nullptr, 16);
  }

  hid_t file_;
  const std::string& path_;
  bool checksums_;
  Catalog catalog_;
  std::vector<std::optional<std::int64_t>> order_;  // per dataset, as listed
  mutable ProgramTypes wanted_types_;
};

// Files mpimerge wrote number their datasets in the order of the checkpoint they came from;
// where any dataset lacks the number, the order is the listing's.
void keep_written_order(std::vector<CatalogTensor>& tensors, const std::vector<std::optional<std::int64_t>>& order) {
  if (std::any_of(order.begin(), order.end(), [](const auto& p) { return !p.has_value(); })) return;
  std::vector<std::size_t> by_position(order.size());
  for (std::size_t i = 0; i < by_position.size(); ++i) by_position[i] = i;
  std::stable_sort(by_position.begin(), by_position.end(),
                   [&](std::size_t a, std::size_t b) { return *order[a] < *order[b]; });
  std::vector<CatalogTensor> sorted;
  sorted.reserve(by_position.size());
  for (const std::size_t i : by_position) sorted.push_back(std::move(tensors[i]));
  tensors = std::move(sorted);
}

}  // namespace

Listing list_root(hid_t file, const std::string& path) {
  silence_hdf5_errors();
  return CatalogReader(file, path, 0, false).list_root();
}

Listing list_datasets(hid_t file, const std::string& path) {
  silence_hdf5_errors();
  return CatalogReader(file, path, 0, false).list();
}

CatalogPart read_catalog_part(hid_t file, const std::string& path, std::uint64_t file_size, bool checksums,
                              const Listing& listing, std::uint64_t part, std::uint64_t parts) {
  silence_hdf5_errors();
  return CatalogReader(file, path, file_size, checksums).read_part(listing, part, parts);
}

namespace {

// A listing's datasets, from all of its parts, in the listing's order.
struct Listed {
  std::vector<CatalogTensor> tensors;
  std::vector<std::optional<std::int64_t>> order;
  bool groups = false;
};

Listed join_parts(std::vector<CatalogPart> parts, std::uint64_t listed) {
  std::vector<std::pair<std::uint64_t, std::pair<std::size_t, std::size_t>>> at;  // position -> (part, index)
  Listed out;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const CatalogPart& part = parts[p];
    if (part.listed != listed || part.positions.size() != part.tensors.size() || part.order.size() != part.tensors.size())
      throw Error("HDF5 catalog: the parts do not fit together");
    for (std::size_t i = 0; i < part.positions.size(); ++i) at.push_back({part.positions[i], {p, i}});
    out.groups = out.groups || !part.groups.empty();
  }
  std::sort(at.begin(), at.end());
  for (std::size_t k = 0; k < at.size(); ++k) {
    const auto [position, where] = at[k];
    if (position >= listed || (k > 0 && at[k - 1].first == position))
      throw Error("HDF5 catalog: the parts do not fit together");
    out.tensors.push_back(std::move(parts[where.first].tensors[where.second]));
    out.order.push_back(parts[where.first].order[where.second]);
  }
  return out;
}

}  // namespace

Catalog assemble_catalog(const CatalogSteps& steps, std::uint64_t file_size) {
  const Listing root = steps.list(false);
  Listed first = join_parts(steps.read(root), root.size());
  Catalog catalog;
  catalog.file_size = file_size;
  if (!first.groups) {
    catalog.tensors = std::move(first.tensors);
    keep_written_order(catalog.tensors, first.order);
    return catalog;
  }
  // Groups: every dataset of the file, those of the root as the first listing read them.
  const Listing whole = steps.list(true);
  std::unordered_map<std::string_view, std::size_t> read_before;  // name -> index in first
  for (std::size_t i = 0; i < first.tensors.size(); ++i) read_before.emplace(first.tensors[i].info.name, i);
  Listing rest;
  for (const ListedObject& object : whole)
    if (!read_before.count(object.name)) rest.push_back(object);
  Listed second = join_parts(steps.read(rest), rest.size());
  if (second.tensors.size() != rest.size()) throw Error("HDF5 catalog: the parts do not fit together");
  std::vector<std::optional<std::int64_t>> order;
  std::size_t next = 0;
  for (const ListedObject& object : whole) {
    const auto before = read_before.find(object.name);
    if (before != read_before.end()) {
      catalog.tensors.push_back(first.tensors[before->second]);
      order.push_back(first.order[before->second]);
    } else {
      catalog.tensors.push_back(std::move(second.tensors[next]));
      order.push_back(second.order[next++]);
    }
  }
  keep_written_order(catalog.tensors, order);
  return catalog;
}

Catalog read_catalog(hid_t file, const std::string& path, std::uint64_t file_size, bool checksums) {
  const CatalogSteps steps{
      [&](bool whole) { return whole ? list_datasets(file, path) : list_root(file, path); },
      [&](const Listing& listing) {
        return std::vector<CatalogPart>{read_catalog_part(file, path, file_size, checksums, listing, 0, 1)};
      }};
  return assemble_catalog(steps, file_size);
}

hid_t open_serial(const std::string& path) {
  silence_hdf5_errors();
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(file access)");
  check(H5Pset_fapl_sec2(fapl.get()), "H5Pset_fapl_sec2");
  // HDF5's shared lock against a writer, where the file system has locks at all.
  check(H5Pset_file_locking(fapl.get(), 1, 1), "H5Pset_file_locking");
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file < 0) {
    const std::string detail = hdf5_error_detail();
    throw InputError(path + ": not a readable HDF5 file" + (detail.empty() ? "" : ": " + detail));
  }
  return file;
}

Catalog read_catalog(const std::string& path, bool checksums) {
  FileHandle file(open_serial(path), path);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path + ": cannot be read: " + std::strerror(errno));
  return read_catalog(file.get(), path, static_cast<std::uint64_t>(st.st_size), checksums);
}

void read_rows_hdf5(hid_t file, const std::string& path, const TensorInfo& tensor, RowRange rows,
                    std::span<std::uint8_t> out) {
  const std::uint64_t bytes = rows.count() * tensor.row_elements() * dtype_size(tensor.dtype);
  if (out.size() < bytes) throw Error(path + ": tensor '" + tensor.name + "': read buffer too small");
  if (bytes == 0) return;
  DatasetHandle d(H5Dopen2(file, tensor.name.c_str(), H5P_DEFAULT), path + ": cannot open dataset '" + tensor.name + "'");
  // numpy bools are read as stored (bytes 0 and 1), whatever the enum's member names.
  TypeHandle memory = tensor.dtype == DType::boolean ? TypeHandle(H5Dget_type(d.get()), "H5Dget_type")
                                                      : hdf5_type_for(tensor.dtype);
  const RowSelection s = select_rows(d.get(), tensor, rows);
  check(H5Dread(d.get(), memory.get(), s.memory.get(), s.file.get(), H5P_DEFAULT, out.data()),
        path + ": cannot read rows " + std::to_string(rows.begin) + ".." + std::to_string(rows.end) + " of tensor '" +
            tensor.name + "'");
}

namespace {

void put(std::vector<std::uint8_t>& out, const CatalogTensor& t) {
  put_text(out, t.info.name);
  put_number(out, static_cast<std::uint64_t>(t.info.dtype));
  put_number(out, t.info.shape.size());
  for (const std::uint64_t n : t.info.shape) put_number(out, n);
  put_number(out, static_cast<std::uint64_t>(t.access));
  put_number(out, t.offset);
  put_number(out, t.checksum.has_value());
  put_number(out, t.checksum.value_or(0));
}

CatalogTensor next_tensor(MessageFields& in) {
  CatalogTensor t;
  t.info.name = in.text();
  t.info.dtype = static_cast<DType>(in.number());
  const std::uint64_t rank = in.number();
  if (rank > H5S_MAX_RANK) throw Error("HDF5 catalog: bad rank");
  for (std::uint64_t d = 0; d < rank; ++d) t.info.shape.push_back(in.number());
  t.access = static_cast<Access>(in.number());
  t.offset = in.number();
  const bool has_checksum = in.number() != 0;
  const std::uint64_t checksum = in.number();
  if (has_checksum) t.checksum = checksum;
  return t;
}

}  // namespace

std::vector<std::uint8_t> encode_catalog(const Catalog& catalog) {
  std::vector<std::uint8_t> out;
  put_number(out, catalog.file_size);
  put_number(out, catalog.tensors.size());
  for (const CatalogTensor& t : catalog.tensors) put(out, t);
  return out;
}

Catalog decode_catalog(std::span<const std::uint8_t> bytes) {
  MessageFields in(bytes, "HDF5 catalog");
  Catalog catalog;
  catalog.file_size = in.number();
  const std::uint64_t count = in.number();
  for (std::uint64_t i = 0; i < count; ++i) catalog.tensors.push_back(next_tensor(in));
  in.finish();
  return catalog;
}

std::vector<std::uint8_t> encode_catalog_part(const CatalogPart& part) {
  std::vector<std::uint8_t> out;
  put_number(out, part.listed);
  put_number(out, part.tensors.size());
  for (std::size_t i = 0; i < part.tensors.size(); ++i) {
    put_number(out, i < part.positions.size() ? part.positions[i] : 0);
    put(out, part.tensors[i]);
    const std::optional<std::int64_t> order = i < part.order.size() ? part.order[i] : std::nullopt;
    put_number(out, order.has_value());
    put_number(out, static_cast<std::uint64_t>(order.value_or(0)));
  }
  put_number(out, part.groups.size());
  for (const std::uint64_t g : part.groups) put_number(out, g);
  return out;
}

CatalogPart decode_catalog_part(std::span<const std::uint8_t> bytes) {
  MessageFields in(bytes, "HDF5 catalog");
  CatalogPart part;
  part.listed = in.number();
  const std::uint64_t count = in.number();
  for (std::uint64_t i = 0; i < count && !in.done(); ++i) {
    part.positions.push_back(in.number());
    part.tensors.push_back(next_tensor(in));
    const bool has_order = in.number() != 0;
    const auto order = static_cast<std::int64_t>(in.number());
    part.order.push_back(has_order ? std::optional<std::int64_t>(order) : std::nullopt);
  }
  const std::uint64_t groups = in.number();
  for (std::uint64_t i = 0; i < groups && !in.done(); ++i) part.groups.push_back(in.number());
  in.finish();
  return part;
}

}  // namespace mpimerge::storage::hdf5
