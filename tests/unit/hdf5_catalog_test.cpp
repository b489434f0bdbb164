// The HDF5 reader's catalog (storage/hdf5/catalog.hpp) on files built in memory (HDF5's core driver,
// no file on disk): what it accepts, how it reads each layout, and the exact line it refuses with.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"
#include "storage/hdf5/catalog.hpp"
#include "storage/hdf5/handle.hpp"
#include "storage/hdf5/names.hpp"
#include "storage/hdf5/types.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

// An HDF5 file in memory, built with HDF5's own API.
class MemoryFile {
 public:
  explicit MemoryFile(bool track_order = false) {
    silence_hdf5_errors();
    PropertyList fcpl(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate");
    if (track_order)
      check(H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), "H5Pset_link_creation_order");
    PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate");
    check(H5Pset_fapl_core(fapl.get(), 1 << 16, 0), "H5Pset_fapl_core");
    static int serial = 0;
    const std::string name = "catalog-test-" + std::to_string(serial++) + ".h5";
    file_ = FileHandle(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), "H5Fcreate");
  }

  // A float dataset of this shape holding 0, 1, 2... (unless write is false) with the given
  // creation properties and file type.
  hid_t add(const std::string& name, std::vector<hsize_t> dims, hid_t dcpl = H5P_DEFAULT, hid_t type = H5T_IEEE_F32LE,
            bool write = true) {
    SpaceHandle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple");
    datasets_.emplace_back(H5Dcreate2(file_.get(), name.c_str(), type, space.get(), H5P_DEFAULT, dcpl, H5P_DEFAULT),
                           "H5Dcreate2");
    hsize_t n = 1;
    for (const hsize_t d : dims) n *= d;
    std::vector<float> values(n);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
    if (write && n)
      check(H5Dwrite(datasets_.back().get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dwrite");
    return datasets_.back().get();
  }

  // Closes the datasets, so that a filter they use can be unregistered.
  void close_datasets() { datasets_.clear(); }

  static void attribute(hid_t object, const char* name, hid_t type, std::vector<hsize_t> dims, const void* data) {
    SpaceHandle space(dims.empty() ? H5Screate(H5S_SCALAR)
                                   : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "H5Screate");
    AttributeHandle a(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), "H5Acreate2");
    check(H5Awrite(a.get(), type, data), "H5Awrite");
  }

  static void text(hid_t object, const char* name, const std::string& value) {
    TypeHandle type(H5Tcopy(H5T_C_S1), "H5Tcopy");
    check(H5Tset_size(type.get(), value.size()), "H5Tset_size");
    attribute(object, name, type.get(), {}, value.data());
  }

  hsize_t flushed_size() {
    check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
    hsize_t size = 0;
    check(H5Fget_filesize(file_.get(), &size), "H5Fget_filesize");
    return size;
  }

  Catalog catalog(bool checksums = false) { return read_catalog(file_.get(), "mem.h5", flushed_size(), checksums); }

  // The catalog read in `parts` parts (as that many ranks read it), each sent as bytes, joined.
  Catalog catalog_in_parts(std::uint64_t parts) {
    const hsize_t size = flushed_size();
    const CatalogSteps steps{
        [&](bool whole) { return whole ? list_datasets(file_.get(), "mem.h5") : list_root(file_.get(), "mem.h5"); },
        [&](const Listing& names) {
          std::vector<CatalogPart> read;
          for (std::uint64_t p = 0; p < parts; ++p)
            read.push_back(decode_catalog_part(
                encode_catalog_part(read_catalog_part(file_.get(), "mem.h5", size, false, names, p, parts))));
          return read;
        }};
    return assemble_catalog(steps, size);
  }

  // Where in the root's listing read_catalog_part(part of parts) finds a defect, or -1.
  std::int64_t defect_in_part(std::uint64_t part, std::uint64_t parts) {
    try {
      read_catalog_part(file_.get(), "mem.h5", 1 << 20, false, list_root(file_.get(), "mem.h5"), part, parts);
    } catch (const CatalogDefect& e) {
      return static_cast<std::int64_t>(e.position);
    }
    return -1;
  }

  hid_t file() const { return file_.get(); }

  // The error read_catalog throws, or "" when it accepts the file.
  std::string refusal(bool checksums = false) {
    try {
      catalog(checksums);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }

  std::vector<float> read(const TensorInfo& tensor, RowRange rows) {
    std::vector<float> out(rows.count() * tensor.row_elements());
    read_rows_hdf5(file_.get(), "mem.h5", tensor, rows,
                   std::span(reinterpret_cast<std::uint8_t*>(out.data()), out.size() * sizeof(float)));
    return out;
  }

 private:
  FileHandle file_;
  std::vector<DatasetHandle> datasets_;
};

PropertyList chunked(std::vector<hsize_t> chunk, bool gzip = false) {
  PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk");
  if (gzip) check(H5Pset_deflate(dcpl.get(), 4), "H5Pset_deflate");
  return dcpl;
}

TEST(Hdf5Catalog, ReadsContiguousTensorsAsRawByteRangesInTheirWrittenOrder) {
  MemoryFile f;
  const std::int64_t first = 0, second = 1;
  MemoryFile::attribute(f.add("b", {2, 3}), "mpimerge_order", H5T_STD_I64LE, {}, &first);
  MemoryFile::attribute(f.add("a", {4}), "mpimerge_order", H5T_STD_I32BE, {}, &second);
  const Catalog c = f.catalog();
  ASSERT_EQ(c.tensors.size(), 2u);
  EXPECT_EQ(c.tensors[0].info, (TensorInfo{"b", DType::f32, {2, 3}}));
  EXPECT_EQ(c.tensors[1].info, (TensorInfo{"a", DType::f32, {4}}));
  EXPECT_EQ(c.tensors[0].access, Access::raw);
  EXPECT_GT(c.tensors[0].offset, 0u);
  EXPECT_EQ(f.read(c.tensors[0].info, {1, 2}), (std::vector<float>{3, 4, 5}));
}

// Ranks read a file's catalog side by side, each a share of the datasets: joined, the parts are
// the catalog one reader makes, in the written order or the listing's, at any number of parts.
TEST(Hdf5Catalog, ReadInPartsIsTheSameCatalogAtAnyNumberOfParts) {
  MemoryFile ordered, listed;
  for (int i = 0; i < 7; ++i) {
    const std::int64_t position = 6 - i;  // written order: the reverse of the names' order
    const std::string name = std::string(1, 't') + static_cast<char>('0' + i);
    MemoryFile::attribute(ordered.add(name, {2, static_cast<hsize_t>(i + 1)}), "mpimerge_order", H5T_STD_I64LE, {},
                          &position);
    listed.add(name, {static_cast<hsize_t>(i + 1)});
  }
  for (MemoryFile* f : {&ordered, &listed}) {
    const Catalog whole = f->catalog();
    ASSERT_EQ(whole.tensors.size(), 7u);
    for (const std::uint64_t parts : {1u, 2u, 3u, 7u, 9u}) EXPECT_EQ(f->catalog_in_parts(parts), whole) << parts;
  }
  EXPECT_EQ(ordered.catalog().tensors.front().info.name, "t6");
  EXPECT_EQ(listed.catalog().tensors.front().info.name, "t0");
}

herr_t collect_visited_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

// The datasets HDF5's own visit of every object finds, in its order: what the two listings
// (the root's links, then the whole file where the root holds groups) must add up to.
std::vector<std::string> visited_datasets(hid_t file, H5_index_t index) {
  std::vector<std::string> names;
  check(H5Ovisit2(file, index, H5_ITER_INC, collect_visited_dataset, &names, H5O_INFO_BASIC), "H5Ovisit2");
  return names;
}

std::vector<std::string> names_of(const Catalog& c) {
  std::vector<std::string> names;
  for (const CatalogTensor& t : c.tensors) names.push_back(t.info.name);
  return names;
}

void add_group(hid_t file, const char* name, bool track_order) {
  PropertyList gcpl(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate");
  if (track_order)
    check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), "H5Pset_link_creation_order");
  Handle<H5Gclose> g(H5Gcreate2(file, name, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), "H5Gcreate2");
}

// Groups, a dataset reached by two hard links (listed once, under the name met first), a soft
// link, a named type and an empty group: the catalog lists what HDF5's visit of every object
// lists, in its order, read whole or in parts, by creation order or by name.
TEST(Hdf5Catalog, ListsTheDatasetsOfAVisitOfEveryObjectInItsOrder) {
  for (const bool track_order : {false, true}) {
    MemoryFile f(track_order);
    f.add("z.top", {2});
    add_group(f.file(), "g", track_order);
    f.add("g/w", {3});
    add_group(f.file(), "g/inner", track_order);
    f.add("g/inner/v", {1, 2});
    add_group(f.file(), "empty", track_order);
    f.add("a.top", {4});
    check(H5Lcreate_hard(f.file(), "a.top", f.file(), "g/again", H5P_DEFAULT, H5P_DEFAULT), "H5Lcreate_hard");
    check(H5Lcreate_hard(f.file(), "g/w", f.file(), "m.twice", H5P_DEFAULT, H5P_DEFAULT), "H5Lcreate_hard");
    check(H5Lcreate_soft("/z.top", f.file(), "soft", H5P_DEFAULT, H5P_DEFAULT), "H5Lcreate_soft");
    TypeHandle type(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
    check(H5Tcommit2(f.file(), "named.type", type.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "H5Tcommit2");
    const std::vector<std::string> visited =
        visited_datasets(f.file(), track_order ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME);
    ASSERT_EQ(visited.size(), 4u);  // a.top or g/again, g/w or m.twice, g/inner/v, z.top
    EXPECT_EQ(names_of(f.catalog()), visited) << track_order;
    for (const std::uint64_t parts : {1u, 2u, 3u, 5u}) EXPECT_EQ(f.catalog_in_parts(parts), f.catalog()) << parts;
  }
}

// A flat file (names with dots, no groups, as mpimerge writes one): the root's links are the
// whole listing, a second link to a dataset passed over.
TEST(Hdf5Catalog, ListsAFlatFileFromTheRootsLinksAlone) {
  MemoryFile f;
  f.add("model.b", {2});
  f.add("model.a", {3});
  check(H5Lcreate_hard(f.file(), "model.b", f.file(), "model.c", H5P_DEFAULT, H5P_DEFAULT), "H5Lcreate_hard");
  std::vector<std::string> root;
  for (const ListedObject& object : list_root(f.file(), "mem.h5")) root.push_back(object.name);
  EXPECT_EQ(root, (std::vector<std::string>{"model.a", "model.b"}));
  EXPECT_EQ(names_of(f.catalog()), visited_datasets(f.file(), H5_INDEX_NAME));
}

TEST(Hdf5Catalog, ADefectSaysWhereInTheListingItIs) {
  MemoryFile f;
  f.add("a", {2});
  f.add("b", {2});
  const std::int64_t many[2] = {0, 1};
  MemoryFile::attribute(f.add("c", {2}), "mpimerge_order", H5T_STD_I64LE, {2}, many);
  f.add("d", {2});
  EXPECT_EQ(f.defect_in_part(0, 1), 2);
  EXPECT_EQ(f.defect_in_part(0, 2), 2);   // positions 0, 2
  EXPECT_EQ(f.defect_in_part(1, 2), -1);  // positions 1, 3
  EXPECT_EQ(f.defect_in_part(2, 3), 2);
  EXPECT_NE(f.refusal().find("tensor 'c'"), std::string::npos) << f.refusal();
}

TEST(Hdf5Catalog, ReadsChunkedCompressedBigEndianAndEmptyTensorsThroughHdf5) {
  MemoryFile f;
  f.add("gzip", {5, 2}, chunked({2, 2}, true).get());
  f.add("big", {3}, H5P_DEFAULT, H5T_IEEE_F32BE);
  f.add("empty", {5, 0});
  const Catalog c = f.catalog();
  ASSERT_EQ(c.tensors.size(), 3u);  // by name: big, empty, gzip
  EXPECT_EQ(c.tensors[0].access, Access::hdf5);
  EXPECT_EQ(f.read(c.tensors[0].info, {0, 3}), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(c.tensors[1].access, Access::none);
  EXPECT_EQ(c.tensors[1].info.shape, (std::vector<std::uint64_t>{5, 0}));
  EXPECT_EQ(c.tensors[2].access, Access::hdf5);
  EXPECT_EQ(f.read(c.tensors[2].info, {3, 5}), (std::vector<float>{6, 7, 8, 9}));
}

TEST(Hdf5Catalog, RefusesAnOrderAttributeOfManyValuesOrAnotherClass) {
  {
    MemoryFile f;
    const std::int64_t values[3] = {0, 1, 2};
    MemoryFile::attribute(f.add("w", {2}), "mpimerge_order", H5T_STD_I64LE, {3}, values);
    EXPECT_EQ(f.refusal(), "mem.h5: tensor 'w' has an attribute mpimerge_order of 3 values, expected one integer");
  }
  {
    MemoryFile f;
    const hsize_t three = 3;
    TypeHandle array(H5Tarray_create2(H5T_STD_I64LE, 1, &three), "H5Tarray_create2");
    const std::int64_t values[3] = {0, 1, 2};
    MemoryFile::attribute(f.add("w", {2}), "mpimerge_order", array.get(), {}, values);
    EXPECT_EQ(f.refusal(), "mem.h5: tensor 'w' has an attribute mpimerge_order that is an array type, expected one integer");
  }
  {
    MemoryFile f;
    MemoryFile::text(f.add("w", {2}), "mpimerge_order", "zero");
    EXPECT_EQ(f.refusal(), "mem.h5: tensor 'w' has an attribute mpimerge_order that is a string, expected one integer");
  }
}

TEST(Hdf5Catalog, ReadsChecksumsOnlyWhenAskedAndChecksThemFirst) {
  MemoryFile f;
  MemoryFile::text(f.add("good", {2}), "mpimerge_checksum", "0123456789abcdef");
  MemoryFile::text(f.add("none", {2}), "mpimerge_checksum", std::string(16, '0'));
  EXPECT_EQ(f.catalog(false).tensors[0].checksum, std::nullopt);
  const Catalog c = f.catalog(true);
  EXPECT_EQ(c.tensors[0].checksum, std::optional<std::uint64_t>(0x0123456789abcdefull));
  EXPECT_EQ(c.tensors[1].checksum, std::nullopt);

  MemoryFile g;
  TypeHandle text(H5Tcopy(H5T_C_S1), "H5Tcopy");
  check(H5Tset_size(text.get(), 16), "H5Tset_size");
  const std::string many(4000 * 16, 'a');
  MemoryFile::attribute(g.add("w", {2}), "mpimerge_checksum", text.get(), {4000}, many.data());
  EXPECT_EQ(g.refusal(false), "");  // a merge never reads it
  EXPECT_EQ(g.refusal(true),
            "mem.h5: tensor 'w' has an attribute mpimerge_checksum of 4000 values, expected one string of 16 hexadecimal digits");

  MemoryFile h;
  MemoryFile::text(h.add("w", {2}), "mpimerge_checksum", std::string(16, 'z'));
  EXPECT_EQ(h.refusal(true),
            "mem.h5: tensor 'w' has an attribute mpimerge_checksum 'zzzzzzzzzzzzzzzz' that is not 16 lower-case hexadecimal digits");
}

TEST(Hdf5Catalog, ReadsAVariableLengthChecksumString) {
  MemoryFile f;
  TypeHandle text(H5Tcopy(H5T_C_S1), "H5Tcopy");
  check(H5Tset_size(text.get(), H5T_VARIABLE), "H5Tset_size");
  const char* value = "00000000000000ff";
  MemoryFile::attribute(f.add("w", {2}), "mpimerge_checksum", text.get(), {}, &value);
  EXPECT_EQ(f.catalog(true).tensors[0].checksum, std::optional<std::uint64_t>(255));
}

size_t pass_through(unsigned, size_t, const unsigned[], size_t bytes, size_t*, void**) { return bytes; }

TEST(Hdf5Catalog, RefusesStorageOutsideTheFileAndFiltersItCannotDecode) {
  {
    MemoryFile f;
    PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
    check(H5Pset_external(dcpl.get(), "elsewhere.bin", 0, H5F_UNLIMITED), "H5Pset_external");
    f.add("x", {2}, dcpl.get(), H5T_IEEE_F32LE, false);
    EXPECT_EQ(f.refusal(), "mem.h5: tensor 'x' keeps its data in external files (external storage), which mpimerge does not read");
  }
  {
    MemoryFile f;
    PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
    const hsize_t two = 2;
    SpaceHandle space(H5Screate_simple(1, &two, nullptr), "H5Screate_simple");
    check(H5Pset_virtual(dcpl.get(), space.get(), "other.h5", "/source", space.get()), "H5Pset_virtual");
    f.add("v", {2}, dcpl.get(), H5T_IEEE_F32LE, false);
    EXPECT_EQ(f.refusal(), "mem.h5: tensor 'v' is a virtual dataset (its data lies in other files, which mpimerge does not read)");
  }
  {
    // LZF's id, as h5py registers it: present while the file is written, absent when it is read.
    const H5Z_class2_t lzf = {H5Z_CLASS_T_VERS, 32000, 1, 1, "lzf", nullptr, nullptr, pass_through};
    MemoryFile f;
    check(H5Zregister(&lzf), "H5Zregister");
    PropertyList dcpl = chunked({2});
    check(H5Pset_filter(dcpl.get(), 32000, H5Z_FLAG_OPTIONAL, 0, nullptr), "H5Pset_filter");
    f.add("c", {4}, dcpl.get());
    f.close_datasets();
    check(H5Zunregister(32000), "H5Zunregister");
    EXPECT_EQ(f.refusal(), "mem.h5: tensor 'c' is compressed with filter 32000 (lzf), which this HDF5 library cannot "
                           "decode (install its plugin in HDF5_PLUGIN_PATH, or rewrite the file without it, e.g. "
                           "h5repack -f NONE)");
  }
}

TEST(Hdf5Catalog, RefusesTypesWhoseBytesAreNotTheirNumbers) {
  MemoryFile f;
  TypeHandle padded(H5Tcopy(H5T_STD_I32LE), "H5Tcopy");
  check(H5Tset_precision(padded.get(), 24), "H5Tset_precision");
  f.add("padded", {2}, H5P_DEFAULT, padded.get(), false);
  EXPECT_EQ(f.refusal(), "mem.h5: tensor 'padded' has an unsupported type: 24-bit integer in 32 bits");
}

TEST(Hdf5Catalog, SurvivesEncodeAndDecode) {
  Catalog c;
  c.file_size = 4096;
  c.tensors.push_back({{"a/b", DType::bf16, {3, 0}}, Access::none, 0, std::nullopt});
  c.tensors.push_back({{std::string("n\0l", 3), DType::f32, {}}, Access::raw, 2048, 7});
  EXPECT_EQ(decode_catalog(encode_catalog(c)), c);
  auto bytes = encode_catalog(c);
  bytes.pop_back();
  EXPECT_THROW(decode_catalog(bytes), Error);
}

TEST(Hdf5Names, RefusesNamesHdf5WouldReadBackAsOthers) {
  auto problem = [](std::vector<std::string> names, std::size_t dims = 1) {
    std::vector<TensorInfo> tensors;
    for (auto& n : names) tensors.push_back({n, DType::f32, std::vector<std::uint64_t>(dims, 1)});
    return unwritable_in_hdf5(tensors);
  };
  EXPECT_EQ(problem({"model.layers.0.weight", "encoder/layer.0/weight", "..", "a b"}), "");
  EXPECT_EQ(problem({"/abs.weight"}),
            "tensor '/abs.weight': a leading, trailing or doubled '/' (HDF5 reads '/' as a separator of groups, and "
            "would read the name back without it)");
  EXPECT_EQ(problem({"t/"}).substr(0, 40), "tensor 't/': a leading, trailing or doub");
  EXPECT_EQ(problem({"a//b"}).substr(0, 42), "tensor 'a//b': a leading, trailing or doub");
  EXPECT_EQ(problem({"."}), "tensor '.': a part '.' between slashes (HDF5 reads it as the group itself)");
  EXPECT_EQ(problem({"x/./y"}), "tensor 'x/./y': a part '.' between slashes (HDF5 reads it as the group itself)");
  EXPECT_EQ(problem({""}), "a tensor with an empty name");
  EXPECT_EQ(problem({"p/q", "p"}),
            "tensor 'p' beside tensor 'p/q' (HDF5 would need 'p' to be a dataset and a group at once)");
  EXPECT_EQ(problem({"r"}, 33), "tensor 'r': 33 dimensions (HDF5 holds at most 32)");
  EXPECT_EQ(problem({"r"}, 32), "");
  EXPECT_EQ(problem({std::string("a\nb/")}).substr(0, 16), "tensor 'a\\x0ab/'");
}

TEST(Printable, EscapesControlCharactersAndCutsLongTexts) {
  EXPECT_EQ(printable("plain.weight"), "plain.weight");
  EXPECT_EQ(printable(std::string("a\nb\0c\\", 6)), "a\\x0ab\\x00c\\x5c");
  EXPECT_EQ(printable("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");  // UTF-8 as it is
  EXPECT_EQ(printable(std::string(10, 'x'), 4), "xxxx...");
}

}  // namespace
}  // namespace mpimerge::storage::hdf5
