// Direct (O_DIRECT) output writes: ranges that start and end inside pages, pages shared by two
// ranks, ranges longer than the bounce buffer, and the file's bytes exactly as written.
#include "storage/direct_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/file.hpp"
#include "support/checkpoint_files.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

std::uint8_t byte_at(std::uint64_t i) { return static_cast<std::uint8_t>((i * 2654435761u) >> 13); }

TEST(DirectFile, RanksWriteUnalignedRangesThatShareEdgePages) {
  testing::SharedTempDir dir(world());
  const std::string path = dir.file("out.bin");
  const int rank = world().rank(), ranks = world().size();
  // Ranges of uneven lengths: one inside a page, 300 KiB (written in two calls below: a first
  // piece under kSmallWriteBytes, through the page cache, and a direct one), 9 MiB (more than the
  // 4 MiB bounce buffer), several pages; each starts where the previous rank's ends, mid-page.
  std::vector<std::uint64_t> starts{100};
  for (int r = 0; r < ranks; ++r) {
    const std::uint64_t lengths[] = {1000, (300u << 10) + 77, (9u << 20) + 4095, 3 * 4096 + 17, 0};
    starts.push_back(starts.back() + lengths[r % 5]);
  }
  const std::uint64_t size = starts.back() + 333;
  {
    mpi::File f = mpi::File::create(world(), path);  // the format's own bytes around the data
    f.set_size(size);
    std::vector<std::uint8_t> head(100), tail(333);
    for (std::uint64_t i = 0; i < 100; ++i) head[i] = byte_at(i);
    for (std::uint64_t i = 0; i < 333; ++i) tail[i] = byte_at(starts.back() + i);
    f.write_at_all(0, world().is_root() ? std::span<const std::uint8_t>(head) : std::span<const std::uint8_t>());
    f.write_at_all(starts.back(), world().is_root() ? std::span<const std::uint8_t>(tail) : std::span<const std::uint8_t>());
    f.sync();
    f.close();
  }
  std::optional<storage::DirectFile> direct = storage::open_direct_on_all(path, world());
  if (!direct) GTEST_SKIP() << "this file system refuses O_DIRECT";
  const auto r = static_cast<std::size_t>(rank);
  std::vector<std::uint8_t> mine(starts[r + 1] - starts[r]);
  for (std::uint64_t i = 0; i < mine.size(); ++i) mine[i] = byte_at(starts[r] + i);
  // In two calls, the second starting mid-page, as a rank's rows of one tensor arrive in pieces.
  const std::size_t split = mine.size() / 3;
  direct->write_at(starts[r], std::span<const std::uint8_t>(mine).first(split));
  direct->write_at(starts[r] + split, std::span<const std::uint8_t>(mine).subspan(split));
  direct->sync();
  world().barrier();
  if (world().is_root()) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<std::uint8_t> all((std::istreambuf_iterator<char>(in)), {});
    ASSERT_EQ(all.size(), size);
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < size; ++i) wrong += all[i] != byte_at(i);
    EXPECT_EQ(wrong, 0u);
  }
}

TEST(DirectFile, OpeningAMissingFileFailsOnEveryRankAlike) {
  testing::SharedTempDir dir(world());
  EXPECT_THROW(storage::open_direct_on_all(dir.file("missing.bin"), world()), Error);
}

}  // namespace
}  // namespace mpimerge
