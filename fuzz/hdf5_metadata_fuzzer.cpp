// Fuzzes the HDF5 reader's metadata checks (storage/hdf5/catalog.hpp): the mpimerge_order and
// mpimerge_checksum attributes, the datasets' types (the dtype), dataspaces, layouts, filters,
// external storage and links.
//
// An input is one of two things:
// - a description (what fuzzing makes): its bytes choose a small HDF5 file, which HDF5 itself then
//   builds in memory (core driver): datasets of any type class, shape, layout (contiguous, chunked,
//   compact, virtual, external), filters (deflate, shuffle, Fletcher-32, and one registered while
//   the file is written and gone when it is read, as LZF without its plugin), allocated or not,
//   with or without data, and attributes of any class, size and dataspace; a user block; soft,
//   hard and external links. Every file is valid HDF5: what is fuzzed is how mpimerge reads all
//   that HDF5 can express, not libhdf5's decoder of corrupt bytes, whose known crashes in Debian
//   12's 1.10.8 (a row of CVEs) no caller can fix and would drown every finding of ours.
// - a file image (the HDF5 signature at byte 0 or after a user block): read as it is. Only when
//   MPIMERGE_FUZZ_IMAGES=1 (scripts/fuzz.sh sets it to replay fuzz/regressions/hdf5_metadata/, the
//   crafted files of tests/bad-inputs); while fuzzing, mutated images would test libhdf5 instead.
//
// Findings: anything but mpimerge::Error escaping read_catalog; a tensor it accepts that HDF5 then
// cannot read whole into a buffer of exactly its size; a "raw" tensor whose bytes at its offset
// are not what HDF5 reads; a catalog that does not survive encode/decode; a catalog whose tensors
// are not the datasets HDF5's own visit of every object finds (the catalog lists the root's links
// and reads objects by address, listing the whole file only where the root holds groups); any
// sanitizer report.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "storage/hdf5/catalog.hpp"
#include "storage/hdf5/handle.hpp"
#include "storage/hdf5/types.hpp"

using namespace mpimerge;
using namespace mpimerge::storage::hdf5;

namespace {

constexpr H5Z_filter_t kStubFilter = 32000;  // LZF's id: present while writing, absent while reading
constexpr std::uint64_t kMaxReadBytes = std::uint64_t{1} << 24;

size_t pass_through(unsigned, size_t, const unsigned[], size_t bytes, size_t*, void**) { return bytes; }

const H5Z_class2_t kStubClass = {H5Z_CLASS_T_VERS, kStubFilter, 1, 1, "lzf (stub)", nullptr, nullptr, pass_through};

// HDF5 calls that may fail while a described file is built: a failure just leaves that part out.
template <class F>
void attempt(F&& f) {
  try {
    f();
  } catch (const Error&) {
    hdf5_error_detail();
  }
}

TypeHandle make_type(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 21)) {
    case 0: return TypeHandle(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
    case 1: return TypeHandle(H5Tcopy(H5T_IEEE_F64LE), "H5Tcopy");
    case 2: return TypeHandle(H5Tcopy(H5T_IEEE_F32BE), "H5Tcopy");
    case 3: return hdf5_type_for(DType::bf16);
    case 4: return hdf5_type_for(DType::f16);
    case 5: return hdf5_type_for(DType::f8_e4m3);
    case 6: return TypeHandle(H5Tcopy(H5T_STD_I8LE), "H5Tcopy");
    case 7: return TypeHandle(H5Tcopy(H5T_STD_U16BE), "H5Tcopy");
    case 8: return TypeHandle(H5Tcopy(H5T_STD_I32LE), "H5Tcopy");
    case 9: return TypeHandle(H5Tcopy(H5T_STD_U64LE), "H5Tcopy");
    case 10: return hdf5_type_for(DType::boolean);
    case 11: {  // an enum that is not numpy's bool
      TypeHandle t(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create");
      const std::int8_t a = in.ConsumeIntegral<std::int8_t>(), b = static_cast<std::int8_t>(a + 1 + in.ConsumeIntegralInRange<int>(0, 3));
      H5Tenum_insert(t.get(), "A", &a);
      H5Tenum_insert(t.get(), "B", &b);
      return t;
    }
    case 12: {
      TypeHandle t(H5Tcopy(H5T_C_S1), "H5Tcopy");
      H5Tset_size(t.get(), in.ConsumeIntegralInRange<std::size_t>(1, 40));
      return t;
    }
    case 13: {
      TypeHandle t(H5Tcopy(H5T_C_S1), "H5Tcopy");
      H5Tset_size(t.get(), H5T_VARIABLE);
      return t;
    }
    case 14: {
      TypeHandle t(H5Tcreate(H5T_COMPOUND, 8), "H5Tcreate");
      H5Tinsert(t.get(), "a", 0, H5T_STD_I32LE);
      H5Tinsert(t.get(), "b", 4, H5T_IEEE_F32LE);
      return t;
    }
    case 15: {
      const hsize_t n = in.ConsumeIntegralInRange<hsize_t>(1, 4);
      return TypeHandle(H5Tarray_create2(H5T_STD_I64LE, 1, &n), "H5Tarray_create2");
    }
    case 16: {  // an integer with unused bits
      TypeHandle t(H5Tcopy(H5T_STD_I32LE), "H5Tcopy");
      H5Tset_precision(t.get(), in.ConsumeIntegralInRange<std::size_t>(1, 32));
      return t;
    }
    case 17: return TypeHandle(H5Tcreate(H5T_OPAQUE, in.ConsumeIntegralInRange<std::size_t>(1, 8)), "H5Tcreate");
    case 18: return TypeHandle(H5Tcopy(H5T_STD_B8LE), "H5Tcopy");
    case 19: return TypeHandle(H5Tvlen_create(H5T_STD_I32LE), "H5Tvlen_create");
    case 20: {  // a float with another exponent bias
      TypeHandle t(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
      H5Tset_ebias(t.get(), in.ConsumeIntegralInRange<std::size_t>(0, 255));
      return t;
    }
    default: return TypeHandle(H5Tcopy(H5T_STD_I64BE), "H5Tcopy");
  }
}

SpaceHandle make_space(FuzzedDataProvider& in, bool& unlimited) {
  const int kind = in.ConsumeIntegralInRange<int>(0, 9);
  unlimited = false;
  if (kind == 0) return SpaceHandle(H5Screate(H5S_SCALAR), "H5Screate");
  if (kind == 1) return SpaceHandle(H5Screate(H5S_NULL), "H5Screate");
  const int rank = in.ConsumeIntegralInRange<int>(1, kind == 9 ? 32 : 4);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), max(dims.size(), H5S_UNLIMITED);
  for (hsize_t& d : dims) d = in.ConsumeIntegralInRange<hsize_t>(0, kind == 9 ? 1 : 6);
  unlimited = in.ConsumeBool();
  return SpaceHandle(H5Screate_simple(rank, dims.data(), unlimited ? max.data() : nullptr), "H5Screate_simple");
}

PropertyList make_layout(FuzzedDataProvider& in, hid_t space, bool unlimited, bool& writable) {
  PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  writable = true;
  const int rank = H5Sget_simple_extent_ndims(space);
  const int layout = in.ConsumeIntegralInRange<int>(0, 9);
  if ((layout >= 4 && layout <= 7 && rank > 0) || unlimited) {  // chunked, maybe filtered
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0))), chunk(dims.size());
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    for (std::size_t i = 0; i < dims.size(); ++i) chunk[i] = in.ConsumeIntegralInRange<hsize_t>(1, std::max<hsize_t>(dims[i], 1));
    if (!dims.empty()) H5Pset_chunk(dcpl.get(), rank, chunk.data());
    if (layout == 5) H5Pset_deflate(dcpl.get(), in.ConsumeIntegralInRange<unsigned>(0, 9));
    if (layout == 6) {
      H5Pset_shuffle(dcpl.get());
      H5Pset_fletcher32(dcpl.get());
    }
    if (layout == 7)
      H5Pset_filter(dcpl.get(), kStubFilter, in.ConsumeBool() ? H5Z_FLAG_OPTIONAL : H5Z_FLAG_MANDATORY, 0, nullptr);
  } else if (layout == 1) {
    H5Pset_layout(dcpl.get(), H5D_COMPACT);
  } else if (layout == 2) {
    H5Pset_external(dcpl.get(), "fuzz-external.bin", 0, H5F_UNLIMITED);
    writable = false;
  } else if (layout == 3 && rank > 0) {
    SpaceHandle source(H5Scopy(space), "H5Scopy");
    H5Pset_virtual(dcpl.get(), space, "fuzz-other.h5", "/source", source.get());
    writable = false;
  }
  const H5D_alloc_time_t alloc[] = {H5D_ALLOC_TIME_DEFAULT, H5D_ALLOC_TIME_EARLY, H5D_ALLOC_TIME_LATE};
  if (writable) H5Pset_alloc_time(dcpl.get(), alloc[in.ConsumeIntegralInRange<int>(0, 2)]);
  return dcpl;
}

void write_attribute(hid_t object, const char* name, hid_t type, hid_t space, const void* data) {
  AttributeHandle a(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), "H5Acreate2");
  check(H5Awrite(a.get(), type, data), "H5Awrite");
}

// mpimerge_order: one integer as mpimerge writes it, or any other class, size or dataspace.
void add_order(FuzzedDataProvider& in, hid_t dataset, std::int64_t position) {
  const int kind = in.ConsumeIntegralInRange<int>(0, 7);
  SpaceHandle scalar(H5Screate(H5S_SCALAR), "H5Screate");
  if (kind <= 2) {
    if (kind == 1) position = in.ConsumeIntegral<std::int64_t>();
    write_attribute(dataset, "mpimerge_order", H5T_STD_I64LE, scalar.get(), &position);
  } else if (kind == 3) {  // many values (the crash of issue 14: an array read into one)
    const hsize_t n = in.ConsumeBool() ? 3 : in.ConsumeIntegralInRange<hsize_t>(0, 8000);
    std::vector<std::int64_t> values(n, position);
    SpaceHandle space(H5Screate_simple(1, &n, nullptr), "H5Screate_simple");
    write_attribute(dataset, "mpimerge_order", H5T_STD_I64LE, space.get(), values.data());
  } else if (kind == 4) {
    const hsize_t three = 3;
    TypeHandle array(H5Tarray_create2(H5T_STD_I64LE, 1, &three), "H5Tarray_create2");
    const std::int64_t values[3] = {position, position, position};
    write_attribute(dataset, "mpimerge_order", array.get(), scalar.get(), values);
  } else if (kind == 5) {
    const std::int8_t small = static_cast<std::int8_t>(position);
    write_attribute(dataset, "mpimerge_order", H5T_STD_I8BE, scalar.get(), &small);
  } else if (kind == 6) {
    const double value = static_cast<double>(position);
    write_attribute(dataset, "mpimerge_order", H5T_IEEE_F64LE, scalar.get(), &value);
  } else {
    SpaceHandle null(H5Screate(H5S_NULL), "H5Screate");
    AttributeHandle a(H5Acreate2(dataset, "mpimerge_order", H5T_STD_I64LE, null.get(), H5P_DEFAULT, H5P_DEFAULT),
                      "H5Acreate2");
  }
}

// mpimerge_checksum: 16 hex digits as mpimerge writes them, or any other text, size or dataspace.
void add_checksum(FuzzedDataProvider& in, hid_t dataset) {
  const int kind = in.ConsumeIntegralInRange<int>(0, 7);
  SpaceHandle scalar(H5Screate(H5S_SCALAR), "H5Screate");
  TypeHandle text(H5Tcopy(H5T_C_S1), "H5Tcopy");
  if (kind <= 3) {
    std::string value = kind == 0 ? "0123456789abcdef" : kind == 1 ? std::string(16, '0')
                                                                   : in.ConsumeBytesAsString(in.ConsumeIntegralInRange<std::size_t>(1, 100));
    if (value.empty()) value = "z";
    H5Tset_size(text.get(), value.size());
    if (in.ConsumeBool()) H5Tset_strpad(text.get(), in.ConsumeBool() ? H5T_STR_NULLPAD : H5T_STR_SPACEPAD);
    write_attribute(dataset, "mpimerge_checksum", text.get(), scalar.get(), value.data());
  } else if (kind == 4) {  // a variable-length string (h5py's default)
    H5Tset_size(text.get(), H5T_VARIABLE);
    const std::string value = in.ConsumeRandomLengthString(100);
    const char* pointer = value.c_str();
    write_attribute(dataset, "mpimerge_checksum", text.get(), scalar.get(), &pointer);
  } else if (kind == 5) {  // many strings
    const hsize_t n = in.ConsumeIntegralInRange<hsize_t>(0, 4000);
    H5Tset_size(text.get(), 16);
    std::string values(n * 16, 'a');
    SpaceHandle space(H5Screate_simple(1, &n, nullptr), "H5Screate_simple");
    write_attribute(dataset, "mpimerge_checksum", text.get(), space.get(), values.data());
  } else if (kind == 6) {
    const std::uint64_t value = in.ConsumeIntegral<std::uint64_t>();
    write_attribute(dataset, "mpimerge_checksum", H5T_STD_U64LE, scalar.get(), &value);
  }
}

void add_dataset(FuzzedDataProvider& in, hid_t file, hid_t lcpl, std::int64_t position) {
  static const char* const kNames[] = {"w", "a/b", "model.layers.0.mlp.down_proj.weight", "x y", "p", "p/q", "..", "é/ü"};
  std::string name = in.ConsumeBool() ? kNames[in.ConsumeIntegralInRange<int>(0, 7)] : in.ConsumeRandomLengthString(12);
  if (name.empty()) name = "e";
  TypeHandle type = make_type(in);
  bool unlimited = false, writable = true;
  SpaceHandle space = make_space(in, unlimited);
  PropertyList dcpl = make_layout(in, space.get(), unlimited, writable);
  DatasetHandle d(H5Dcreate2(file, name.c_str(), type.get(), space.get(), lcpl, dcpl.get(), H5P_DEFAULT), "H5Dcreate2");
  if (writable && in.ConsumeBool() && H5Tis_variable_str(type.get()) <= 0 && H5Tget_class(type.get()) != H5T_VLEN) {
    const hssize_t points = H5Sget_simple_extent_npoints(space.get());
    std::vector<std::uint8_t> data(static_cast<std::size_t>(std::max<hssize_t>(points, 0)) * H5Tget_size(type.get()));
    const std::vector<std::uint8_t> given = in.ConsumeBytes<std::uint8_t>(data.size());
    std::copy(given.begin(), given.end(), data.begin());
    if (!data.empty()) attempt([&] { check(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "H5Dwrite"); });
  }
  attempt([&] { add_order(in, d.get(), position); });
  attempt([&] { add_checksum(in, d.get()); });
}

// The image of a file the description builds, or nothing where HDF5 refused its very start.
std::vector<std::uint8_t> build_image(FuzzedDataProvider& in) {
  PropertyList fcpl(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate");
  const hsize_t user_block = in.ConsumeBool() ? 0 : hsize_t{512} << in.ConsumeIntegralInRange<int>(0, 2);
  H5Pset_userblock(fcpl.get(), user_block);
  if (in.ConsumeBool()) H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate");
  check(H5Pset_fapl_core(fapl.get(), 1 << 16, 0), "H5Pset_fapl_core");
  FileHandle file(H5Fcreate("fuzz-build.h5", H5F_ACC_TRUNC, fcpl.get(), fapl.get()), "H5Fcreate");
  PropertyList lcpl(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate");
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  const int datasets = in.ConsumeIntegralInRange<int>(0, 5);
  for (int i = 0; i < datasets; ++i) attempt([&] { add_dataset(in, file.get(), lcpl.get(), datasets - i); });
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 1: H5Lcreate_external("fuzz-other.h5", "/source", file.get(), "external", H5P_DEFAULT, H5P_DEFAULT); break;
    case 2: H5Lcreate_soft("/w", file.get(), "soft", H5P_DEFAULT, H5P_DEFAULT); break;
    case 3: H5Lcreate_hard(file.get(), "w", file.get(), "hard", H5P_DEFAULT, H5P_DEFAULT); break;
    default: break;
  }
  hdf5_error_detail();
  check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size <= 0) return {};
  std::vector<std::uint8_t> image(static_cast<std::size_t>(size));
  if (H5Fget_file_image(file.get(), image.data(), image.size()) != size) return {};
  return image;
}

bool is_image(const std::uint8_t* data, std::size_t size) {
  static constexpr std::uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (std::size_t at = 0; at + 8 <= size; at = at == 0 ? 512 : at * 2)
    if (std::memcmp(data + at, kSignature, 8) == 0) return true;
  return false;
}

herr_t collect_visited(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

// The datasets H5Ovisit finds, by the index the catalog uses (creation order where the root tracks
// it and the visit by it succeeds, else by name), sorted; nothing where the visit fails.
std::vector<std::string> visited_datasets(hid_t file) {
  std::vector<std::string> names;
  bool tracked = false;
  if (const hid_t root = H5Gopen2(file, "/", H5P_DEFAULT); root >= 0) {
    if (const hid_t gcpl = H5Gget_create_plist(root); gcpl >= 0) {
      unsigned flags = 0;
      tracked = H5Pget_link_creation_order(gcpl, &flags) >= 0 && (flags & H5P_CRT_ORDER_TRACKED);
      H5Pclose(gcpl);
    }
    H5Gclose(root);
  }
  if (!tracked || H5Ovisit2(file, H5_INDEX_CRT_ORDER, H5_ITER_INC, collect_visited, &names, H5O_INFO_BASIC) < 0) {
    names.clear();
    if (H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, collect_visited, &names, H5O_INFO_BASIC) < 0) names.clear();
  }
  hdf5_error_detail();
  std::sort(names.begin(), names.end());
  return names;
}

// Reads the catalog of an image and holds what it accepts to the oracles above.
void check_image(std::vector<std::uint8_t>& image, bool checksums) {
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate");
  check(H5Pset_fapl_core(fapl.get(), 1 << 16, 0), "H5Pset_fapl_core");
  check(H5Pset_file_image(fapl.get(), image.data(), image.size()), "H5Pset_file_image");
  const hid_t id = H5Fopen("fuzz-read.h5", H5F_ACC_RDONLY, fapl.get());
  if (id < 0) {
    hdf5_error_detail();
    return;
  }
  FileHandle file(id, "H5Fopen");
  Catalog catalog;
  try {
    catalog = read_catalog(file.get(), "fuzz.h5", image.size(), checksums);
  } catch (const Error&) {
    return;  // refused, with the program's one-line error
  }
  if (!(decode_catalog(encode_catalog(catalog)) == catalog)) std::abort();
  std::vector<std::string> listed;
  for (const CatalogTensor& t : catalog.tensors) listed.push_back(t.info.name);
  std::sort(listed.begin(), listed.end());
  if (listed != visited_datasets(file.get())) std::abort();  // a dataset missed, or listed twice
  for (const CatalogTensor& t : catalog.tensors) {
    if (t.info.shape.size() > 32 || (!checksums && t.checksum)) std::abort();
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(t.info.elements(), dtype_size(t.info.dtype), &bytes)) std::abort();
    if (t.access == Access::none) {
      if (bytes != 0) std::abort();
      continue;
    }
    if (bytes > kMaxReadBytes) continue;  // a large image's tensor: its metadata was the point
    std::vector<std::uint8_t> whole(bytes);
    try {
      read_rows_hdf5(file.get(), "fuzz.h5", t.info, RowRange{0, t.info.rows()}, whole);
    } catch (const Error&) {
      std::abort();  // accepted, but unreadable
    }
    if (t.access == Access::raw &&
        (t.offset > image.size() || bytes > image.size() - t.offset ||
         std::memcmp(image.data() + t.offset, whole.data(), bytes) != 0))
      std::abort();  // the raw bytes are not the tensor's
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  silence_hdf5_errors();
  static const bool images = std::getenv("MPIMERGE_FUZZ_IMAGES") && std::string(std::getenv("MPIMERGE_FUZZ_IMAGES")) == "1";
  if (is_image(data, size)) {
    if (!images) return -1;  // not added to the corpus
    std::vector<std::uint8_t> image(data, data + size);
    check_image(image, true);
    check_image(image, false);
    return 0;
  }
  FuzzedDataProvider in(data, size);
  const bool checksums = in.ConsumeBool();
  H5Zregister(&kStubClass);
  std::vector<std::uint8_t> image;
  attempt([&] { image = build_image(in); });
  H5Zunregister(kStubFilter);
  hdf5_error_detail();
  if (!image.empty()) check_image(image, checksums);
  return 0;
}
