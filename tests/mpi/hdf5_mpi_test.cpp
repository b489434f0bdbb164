// The HDF5 backend, written and read by all ranks: every dtype and odd shape survives byte for byte.
#include <gtest/gtest.h>

#include <fstream>

#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "support/checkpoint_files.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

TEST(Hdf5Checkpoint, WritesAndReadsEveryTensorByteForByte) {
  testing::SharedTempDir dir(world());
  testing::SetOptions options;
  options.with_f64 = true;
  const auto set = testing::random_checkpoint_set(options);
  auto tensors = set.tensors;
  tensors.push_back({"flag", DType::boolean, {3}});
  auto data = set.base;
  data.push_back({1, 0, 1});
  testing::write_checkpoint(dir.file("all.h5"), tensors, data, world());

  testing::RawCheckpoint back;
  const auto listed = testing::read_checkpoint(dir.file("all.h5"), back, world());
  ASSERT_EQ(listed.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto at = std::find_if(listed.begin(), listed.end(), [&](const TensorInfo& t) { return t.name == tensors[i].name; });
    ASSERT_NE(at, listed.end()) << tensors[i].name;
    EXPECT_EQ(*at, tensors[i]);
    EXPECT_EQ(back[static_cast<std::size_t>(at - listed.begin())], data[i]) << tensors[i].name;
  }
}

TEST(Hdf5Checkpoint, RowSlicesReadBackAsTheRowsOfTheWhole) {
  testing::SharedTempDir dir(world());
  const std::vector<TensorInfo> tensors = {{"w", DType::f16, {11, 3}}};
  testing::RawCheckpoint data(1, std::vector<std::uint8_t>(11 * 3 * 2));
  for (std::size_t i = 0; i < data[0].size(); ++i) data[0][i] = static_cast<std::uint8_t>(i * 7);
  testing::write_checkpoint(dir.file("w.h5"), tensors, data, world());
  auto reader = storage::open_checkpoint(dir.file("w.h5"), world());
  const RowRange mine = owned_rows(11, world().rank(), world().size());
  std::vector<std::uint8_t> slice(mine.count() * 6);
  reader->read_rows(0, mine, slice);
  EXPECT_TRUE(std::equal(slice.begin(), slice.end(), data[0].begin() + static_cast<long>(mine.begin * 6)));
}

TEST(Hdf5Checkpoint, TheSameTensorsGiveTheSameBytes) {
  // No timestamps in the file: writing twice gives identical files (across rank counts, the CLI
  // tests compare outputs byte for byte).
  testing::SharedTempDir dir(world());
  const auto set = testing::random_checkpoint_set({});
  testing::write_checkpoint(dir.file("p.h5"), set.tensors, set.base, world());
  testing::write_checkpoint(dir.file("q.h5"), set.tensors, set.base, world());
  if (world().is_root()) {
    std::ifstream a(dir.file("p.h5"), std::ios::binary), b(dir.file("q.h5"), std::ios::binary);
    const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    ASSERT_EQ(sa.size(), sb.size());
    std::size_t differing = 0, first = sa.size();
    for (std::size_t i = 0; i < sa.size(); ++i)
      if (sa[i] != sb[i]) {
        ++differing;
        first = std::min(first, i);
      }
    EXPECT_EQ(differing, 0u) << "first difference at byte " << first << " of " << sa.size();
    if (differing) {
      std::ofstream(std::string("/tmp/same-bytes-p.h5"), std::ios::binary) << sa;
      std::ofstream(std::string("/tmp/same-bytes-q.h5"), std::ios::binary) << sb;
    }
  }
}

TEST(Hdf5Checkpoint, RefusesAFileThatIsNotACheckpoint) {
  testing::SharedTempDir dir(world());
  if (world().is_root()) std::ofstream(dir.file("junk.h5")) << "not hdf5 at all";
  world().barrier();
  EXPECT_THROW(mpi::run_agreed(world(), [&] { storage::open_checkpoint(dir.file("junk.h5"), world()); }), AgreedError);
}

}  // namespace
}  // namespace mpimerge
