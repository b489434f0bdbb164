// Pieces of a batch that lie side by side in a file, read and written as one transfer.
#include "storage/adjacent_runs.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace mpimerge::storage {
namespace {

TEST(AdjacentRuns, JoinNeighboursInOneFileInFileOrder) {
  // Given out of order: file 0 holds [0, 10) [10, 30) [40, 50); file 1 holds [30, 40) next to
  // file 0's [10, 30) in offsets, but in another file.
  std::vector<FilePiece> pieces = {{0, 10, 20, 0}, {1, 30, 10, 1}, {0, 0, 10, 2}, {0, 40, 10, 3}, {0, 30, 0, 4}};
  std::vector<std::vector<std::size_t>> runs;
  for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) {
    runs.emplace_back();
    for (const FilePiece& p : run) runs.back().push_back(p.item);
  });
  // The empty piece at 30 joins [10, 30) and then nothing follows it without a gap.
  EXPECT_EQ(runs, (std::vector<std::vector<std::size_t>>{{2, 0, 4}, {3}, {1}}));
}

TEST(AdjacentRuns, StopAtTheLargestRun) {
  std::vector<FilePiece> pieces;
  for (std::size_t i = 0; i < 10; ++i) pieces.push_back({0, i * 4, 4, i});
  std::vector<std::uint64_t> sizes;
  for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) { sizes.push_back(run_bytes(run)); }, 12);
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{12, 12, 12, 4}));
  // A piece larger than the largest run is a run of its own.
  std::vector<FilePiece> big = {{0, 0, 4, 0}, {0, 4, 100, 1}, {0, 104, 4, 2}};
  sizes.clear();
  for_each_adjacent_run(big, [&](std::span<const FilePiece> run) { sizes.push_back(run_bytes(run)); }, 12);
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{4, 100, 4}));
}

// What a run reads lands in each piece's buffer, and what it writes comes from them, byte for byte.
TEST(AdjacentRuns, ReadAndWriteEveryPieceThroughOneTransfer) {
  std::vector<std::uint8_t> file(64);
  for (std::size_t i = 0; i < file.size(); ++i) file[i] = static_cast<std::uint8_t>(i);
  std::vector<std::vector<std::uint8_t>> out = {std::vector<std::uint8_t>(5), std::vector<std::uint8_t>(7),
                                                std::vector<std::uint8_t>(3)};
  std::vector<FilePiece> pieces = {{0, 12, 7, 1}, {0, 7, 5, 0}, {0, 40, 3, 2}};
  std::vector<std::uint8_t> staging;
  int reads = 0;
  auto read = [&](std::uint64_t at, std::span<std::uint8_t> into) {
    ++reads;
    std::copy_n(file.begin() + static_cast<std::ptrdiff_t>(at), into.size(), into.begin());
  };
  for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) {
    read_run(run, staging, read, [&](std::size_t item) { return std::span<std::uint8_t>(out[item]); });
  });
  EXPECT_EQ(reads, 2);
  EXPECT_EQ(out[0], (std::vector<std::uint8_t>{7, 8, 9, 10, 11}));
  EXPECT_EQ(out[1], (std::vector<std::uint8_t>{12, 13, 14, 15, 16, 17, 18}));
  EXPECT_EQ(out[2], (std::vector<std::uint8_t>{40, 41, 42}));

  std::vector<std::uint8_t> written(64, 0);
  int writes = 0;
  auto write = [&](std::uint64_t at, std::span<const std::uint8_t> bytes) {
    ++writes;
    std::copy(bytes.begin(), bytes.end(), written.begin() + static_cast<std::ptrdiff_t>(at));
  };
  for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) {
    write_run(run, staging, write, [&](std::size_t item) { return std::span<const std::uint8_t>(out[item]); });
  });
  EXPECT_EQ(writes, 2);
  for (std::size_t i = 0; i < written.size(); ++i) {
    const bool inside = (i >= 7 && i < 19) || (i >= 40 && i < 43);
    EXPECT_EQ(written[i], inside ? file[i] : 0) << i;
  }
}

}  // namespace
}  // namespace mpimerge::storage
