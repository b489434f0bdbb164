#pragma once
// Pieces of one batch that lie side by side in a file, as one transfer. A rank that holds a run of
// small tensors whole (pipeline/work_plan.hpp) reads and writes them as a few large transfers
// instead of one system call per tensor and input (100k tensors of 10 KB: 400k reads per pass).
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace mpimerge::storage {

// One piece: `bytes` at `offset` of file `file` (the backend's number), for item `item` of the
// caller's list.
struct FilePiece {
  std::size_t file = 0;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  std::size_t item = 0;
};

// Runs of at most this many bytes (a piece larger than that is a run of its own).
inline constexpr std::uint64_t kAdjacentRunBytes = std::uint64_t{8} << 20;

// Sorts the pieces by file and offset and calls run(pieces of one run, in file order) for each
// maximal run of pieces that follow each other in one file with at most max_gap bytes between
// them, spanning at most max_bytes. Gaps are for reads alone (read_run reads and drops them: an
// HDF5 file holds each small dataset's object header, a few hundred bytes, between its
// neighbours' bytes); a write of a gap would overwrite what lies there.
template <class Run>
void for_each_adjacent_run(std::vector<FilePiece>& pieces, Run&& run, std::uint64_t max_bytes = kAdjacentRunBytes,
                           std::uint64_t max_gap = 0) {
  std::stable_sort(pieces.begin(), pieces.end(), [](const FilePiece& a, const FilePiece& b) {
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  std::size_t first = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const FilePiece& p = pieces[i];
    const std::uint64_t previous_end = i > 0 ? pieces[i - 1].offset + pieces[i - 1].bytes : 0;
    const bool joins = i > first && p.file == pieces[i - 1].file && p.offset >= previous_end &&
                       p.offset - previous_end <= max_gap && p.offset + p.bytes - pieces[first].offset <= max_bytes;
    if (i > first && !joins) {
      run(std::span<const FilePiece>(pieces).subspan(first, i - first));
      first = i;
    }
  }
  if (first < pieces.size()) run(std::span<const FilePiece>(pieces).subspan(first));
}

// The bytes of a run, from its first piece's offset.
inline std::uint64_t run_bytes(std::span<const FilePiece> run) {
  return run.back().offset + run.back().bytes - run.front().offset;
}

// One read(offset, out) per run: into the piece's own buffer (out_of(item)) when it is alone,
// else into `staging` and copied out.
template <class Read, class OutOf>
void read_run(std::span<const FilePiece> run, std::vector<std::uint8_t>& staging, Read&& read, OutOf&& out_of) {
  if (run.size() == 1) {
    read(run.front().offset, std::span<std::uint8_t>(out_of(run.front().item)).first(run.front().bytes));
    return;
  }
  staging.resize(run_bytes(run));
  read(run.front().offset, std::span<std::uint8_t>(staging));
  for (const FilePiece& p : run)
    std::copy_n(staging.data() + (p.offset - run.front().offset), p.bytes, std::span<std::uint8_t>(out_of(p.item)).data());
}

// One write(offset, bytes) per run: from the piece's own bytes (data_of(item)) when it is alone,
// else gathered into `staging` first.
template <class Write, class DataOf>
void write_run(std::span<const FilePiece> run, std::vector<std::uint8_t>& staging, Write&& write, DataOf&& data_of) {
  if (run.size() == 1) {
    write(run.front().offset, std::span<const std::uint8_t>(data_of(run.front().item)).first(run.front().bytes));
    return;
  }
  staging.resize(run_bytes(run));
  for (const FilePiece& p : run)
    std::copy_n(std::span<const std::uint8_t>(data_of(p.item)).data(), p.bytes, staging.data() + (p.offset - run.front().offset));
  write(run.front().offset, std::span<const std::uint8_t>(staging));
}

}  // namespace mpimerge::storage
