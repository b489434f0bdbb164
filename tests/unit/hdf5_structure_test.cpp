// The HDF5 output's structure (storage/hdf5/structure.hpp), made by one process with serial HDF5:
// the offsets it hands the ranks are where the reader finds each tensor's bytes, the checksums it
// fills in are what the reader reads back, and a resumed run's reopen checks every dataset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "storage/hdf5/catalog.hpp"
#include "storage/hdf5/structure.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

namespace fs = std::filesystem;

class Hdf5Structure : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpimerge-structure-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "out.h5").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Nested names, a scalar, a tensor without elements, a large and a small tensor, two dtypes.
  const std::vector<TensorInfo> tensors_ = {
      {"model.embed_tokens.weight", DType::bf16, {512, 1024}},
      {"encoder/layer.0/weight", DType::f32, {3, 5}},
      {"encoder/layer.0/bias", DType::f32, {5}},
      {"encoder/scale", DType::f16, {}},
      {"empty", DType::f32, {5, 0}},
  };
  fs::path dir_;
  std::string path_;
};

TEST_F(Hdf5Structure, GivesEachTensorTheOffsetTheReaderFindsItsBytesAt) {
  const Structure s = create_structure(path_, tensors_);
  ASSERT_EQ(s.data_offsets.size(), tensors_.size());
  const Catalog catalog = read_catalog(path_, false);
  ASSERT_EQ(catalog.tensors.size(), tensors_.size());
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const CatalogTensor& t = catalog.tensors[i];  // in the written order (the order attribute)
    EXPECT_EQ(t.info, tensors_[i]);
    if (tensors_[i].elements() == 0) {
      EXPECT_EQ(s.data_offsets[i], 0u);
      continue;
    }
    EXPECT_EQ(t.access, Access::raw) << t.info.name;
    EXPECT_EQ(t.offset, s.data_offsets[i]) << t.info.name;
    end = std::max(end, t.offset + t.info.bytes());
  }
  EXPECT_EQ(s.data_end, end);
  EXPECT_EQ(s.data_offsets[0] % (1 << 20), 0u) << "objects of 1 MiB or more start on 1 MiB boundaries";
  EXPECT_GE(fs::file_size(path_), s.data_end) << "every dataset's bytes are allocated up front";
}

TEST_F(Hdf5Structure, RecordsNoChecksumUntilWrittenThenTheWrittenOnes) {
  create_structure(path_, tensors_);
  for (const CatalogTensor& t : read_catalog(path_, true).tensors) EXPECT_FALSE(t.checksum) << t.info.name;
  const std::vector<std::uint64_t> sums = {1, 0xfedcba9876543210ull, 3, 4, 5};
  write_checksums(path_, tensors_, sums);
  const Catalog catalog = read_catalog(path_, true);
  for (std::size_t i = 0; i < tensors_.size(); ++i) EXPECT_EQ(catalog.tensors[i].checksum, sums[i]);
}

TEST_F(Hdf5Structure, IsTheSameBytesEachTimeAndReopensToTheSameOffsets) {
  const Structure s = create_structure(path_, tensors_);
  const auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string first = bytes(path_);
  EXPECT_EQ(create_structure(path_, tensors_), s);
  EXPECT_EQ(bytes(path_), first);
  EXPECT_EQ(open_structure(path_, tensors_), s);
  EXPECT_EQ(decode_structure(encode_structure(s)), s);
}

// The writer creates the file at once (the ranks open it for their writes), its datasets on a
// thread of rank 0 while the merge computes, and keeps it open for the checksums: the same bytes
// as create_structure and write_checksums, and a run killed with the file open leaves one that a
// resumed run reopens.
TEST_F(Hdf5Structure, BuiltOnAnotherThreadAndKeptOpenIsTheSameBytes) {
  const auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::vector<std::uint64_t> sums = {1, 0xfedcba9876543210ull, 3, 4, 5};
  const Structure whole = create_structure(path_, tensors_);
  write_checksums(path_, tensors_, sums);
  const std::string expected = bytes(path_);

  const std::string later = (dir_ / "later.h5").string();
  StructureBuilder builder(later, tensors_);
  EXPECT_TRUE(fs::exists(later)) << "the file exists before its datasets";
  std::future<Structure> building = std::async(std::launch::async, [&] { return builder.build(); });
  EXPECT_EQ(building.get(), whole);

  // What a run killed now leaves: its file as written so far, still open.
  const std::string killed = (dir_ / "killed.h5").string();
  fs::copy_file(later, killed);
  EXPECT_EQ(open_structure(killed, tensors_), whole);
  write_checksums(killed, tensors_, sums);
  EXPECT_EQ(bytes(killed), expected);

  std::async(std::launch::async, [&] { builder.write_checksums(sums); }).get();
  EXPECT_EQ(bytes(later), expected);
  const Catalog catalog = read_catalog(later, true);
  for (std::size_t i = 0; i < tensors_.size(); ++i) EXPECT_EQ(catalog.tensors[i].checksum, sums[i]);
}

// Generate and convert write no checksums: the file closed as it is, the same bytes.
TEST_F(Hdf5Structure, KeptOpenAndClosedWithoutChecksumsIsTheSameBytes) {
  const auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  create_structure(path_, tensors_);
  const std::string later = (dir_ / "later.h5").string();
  {
    StructureBuilder builder(later, tensors_);
    builder.build();
  }  // closed by its destructor
  EXPECT_EQ(bytes(later), bytes(path_));
}

// Object headers are packed into metadata blocks, not put before each dataset: a rank's run of
// small tensors is then one write (before, 100k tensors made 100k writes, each through the page
// cache). The reader still finds every tensor where the structure said.
TEST_F(Hdf5Structure, SmallTensorsBytesLieSideBySide) {
  std::vector<TensorInfo> many;
  for (int i = 0; i < 3000; ++i) {
    const std::string name = i % 3 == 0 ? "layers." + std::to_string(i) + ".norm" : "blocks/" + std::to_string(i / 100) + "/w" + std::to_string(i);
    many.push_back({name, i % 2 ? DType::bf16 : DType::f32, {static_cast<std::uint64_t>(1 + i % 7), static_cast<std::uint64_t>(16 + i % 300)}});
  }
  const Structure s = create_structure(path_, many);
  std::size_t breaks = 0;
  for (std::size_t i = 1; i < many.size(); ++i)
    if (s.data_offsets[i] != s.data_offsets[i - 1] + many[i - 1].bytes()) ++breaks;
  // About 1 KiB of headers per dataset in blocks of at most 512 KiB: a handful of breaks, not 3000.
  EXPECT_LE(breaks, 8u);
  const Catalog catalog = read_catalog(path_, false);
  ASSERT_EQ(catalog.tensors.size(), many.size());
  for (std::size_t i = 0; i < many.size(); ++i) {
    EXPECT_EQ(catalog.tensors[i].info, many[i]);
    EXPECT_EQ(catalog.tensors[i].offset, s.data_offsets[i]) << many[i].name;
  }
}

// A small output keeps a small metadata block: its file is not a block's size larger than before.
TEST_F(Hdf5Structure, SmallOutputStaysSmall) {
  const std::vector<TensorInfo> two = {{"a", DType::f32, {4}}, {"b", DType::bf16, {2, 3}}};
  const Structure s = create_structure(path_, two);
  EXPECT_LT(fs::file_size(path_), 16u << 10) << "data ends at " << s.data_end;
}

TEST_F(Hdf5Structure, RefusesToResumeAnOutputOfOtherTensors) {
  create_structure(path_, tensors_);
  std::vector<TensorInfo> reshaped = tensors_;
  reshaped[1].shape = {5, 3};
  try {
    open_structure(path_, reshaped);
    FAIL() << "another shape was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path_ + ": tensor 'encoder/layer.0/weight' of the interrupted output has another shape");
  }
  std::vector<TensorInfo> more = tensors_;
  more.push_back({"extra", DType::f32, {2}});
  EXPECT_THROW(open_structure(path_, more), Error);
  EXPECT_THROW(open_structure((dir_ / "absent.h5").string(), tensors_), Error);
}

}  // namespace
}  // namespace mpimerge::storage::hdf5
