#pragma once
// Splits a rank's rows into collective transfers of at most kMaxTransferBytes, making the same
// number of calls on every rank: the count comes from the most rows any rank holds (rank 0's
// share, which every rank can compute), and ranks with fewer rows pass empty ranges.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/tensor.hpp"

namespace mpimerge {

template <class F>
void for_each_transfer(std::uint64_t most_rows, RowRange mine, std::uint64_t row_bytes, F&& transfer,
                       std::uint64_t max_bytes = storage::kMaxTransferBytes) {
  const std::uint64_t rows_per_call = std::max<std::uint64_t>(1, max_bytes / std::max<std::uint64_t>(1, row_bytes));
  const std::uint64_t calls = (most_rows + rows_per_call - 1) / rows_per_call;
  for (std::uint64_t c = 0; c < calls; ++c) {
    const std::uint64_t begin = std::min(mine.end, mine.begin + c * rows_per_call);
    transfer(RowRange{begin, std::min(mine.end, begin + rows_per_call)});
  }
}

// The most rows any rank owns of a tensor with this many rows.
inline std::uint64_t most_rows_per_rank(std::uint64_t rows, int ranks) { return owned_rows(rows, 0, ranks).count(); }

// Chunks of passes that only checksum what they read (verify, resume): a quarter of the transfer
// limit bounds their buffer.
inline constexpr std::uint64_t kChecksumChunkBytes = std::uint64_t{256} << 20;

// Collective: this rank's rows of a reader's tensor, read in chunks of at most max_bytes into
// `buffer` (the same number of calls on every rank), each handed to use(rows, bytes, row_bytes)
// while it is in the buffer. For passes that stream a whole checkpoint: copy, checksum.
template <class Use>
void for_each_owned_chunk(storage::CheckpointReader& reader, std::size_t index, int rank, int ranks,
                          std::vector<std::uint8_t>& buffer, Use&& use,
                          std::uint64_t max_bytes = storage::kMaxTransferBytes) {
  const TensorInfo& info = reader.tensors()[index];
  const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
  for_each_transfer(most_rows_per_rank(info.rows(), ranks), owned_rows(info.rows(), rank, ranks), row_bytes,
                    [&](RowRange part) {
                      buffer.resize(part.count() * row_bytes);
                      reader.read_rows(index, part, buffer);
                      use(part, std::span<const std::uint8_t>(buffer), row_bytes);
                    },
                    max_bytes);
}

}  // namespace mpimerge
