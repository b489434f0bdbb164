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

// Reads may skip small gaps (an HDF5 file's object headers between small datasets' bytes): one
// read spans them, each piece still gets its own bytes, and a larger gap or an overlap splits.
TEST(AdjacentRuns, ReadsJoinAcrossGapsUpToTheLargest) {
  std::vector<std::uint8_t> file(64);
  for (std::size_t i = 0; i < file.size(); ++i) file[i] = static_cast<std::uint8_t>(i);
  // [2, 6) gap 3 [9, 12) gap 0 [12, 14) gap 4 [18, 20) gap 5 [25, 27); [26, 28) overlaps it.
  std::vector<FilePiece> pieces = {{0, 12, 2, 2}, {0, 2, 4, 0}, {0, 18, 2, 3}, {0, 9, 3, 1}, {0, 25, 2, 4}, {0, 26, 2, 5}};
  std::vector<std::vector<std::uint8_t>> out(6);
  for (const FilePiece& p : pieces) out[p.item].resize(p.bytes);
  std::vector<std::pair<std::uint64_t, std::size_t>> reads;
  std::vector<std::uint8_t> staging;
  for_each_adjacent_run(
      pieces,
      [&](std::span<const FilePiece> run) {
        read_run(
            run, staging,
            [&](std::uint64_t at, std::span<std::uint8_t> into) {
              reads.emplace_back(at, into.size());
              std::copy_n(file.begin() + static_cast<std::ptrdiff_t>(at), into.size(), into.begin());
            },
            [&](std::size_t item) { return std::span<std::uint8_t>(out[item]); });
      },
      kAdjacentRunBytes, 4);
  EXPECT_EQ(reads, (std::vector<std::pair<std::uint64_t, std::size_t>>{{2, 18}, {25, 2}, {26, 2}}));
  for (const FilePiece& p : pieces)
    for (std::size_t k = 0; k < p.bytes; ++k) EXPECT_EQ(out[p.item][k], file[p.offset + k]) << p.item;
  // The largest run counts the gaps it reads.
  std::vector<std::uint64_t> spans;
  for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) { spans.push_back(run_bytes(run)); }, 10, 4);
  EXPECT_EQ(spans, (std::vector<std::uint64_t>{10, 8, 2, 2}));
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
