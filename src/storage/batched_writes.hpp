#pragma once
// The loop both writers share for a batch of row writes (CheckpointWriter::write_rows_batch):
// tensors over kBatchedTensorBytes go through the backend's collective write_rows, in the batch's
// order (every rank makes the same calls); the small ones each rank writes on its own at their
// byte offset, neighbours as one write, and the batch ends in one agreement, so an error (a full
// disk) reaches every rank and names the tensor whose write failed (the first of its run).
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "storage/adjacent_runs.hpp"

namespace mpimerge::storage {

// file_of(index) numbers the file tensor `index` goes to, path_of(index) names it, offset_of(index)
// is where its bytes start there; write_small(file, at, bytes) writes bytes of small tensors that
// lie side by side (one rank's run of held tensors as one write; storage/adjacent_runs.hpp);
// write_large(write) is the collective write_rows. `staging` gathers a run's pieces.
template <class FileOf, class PathOf, class OffsetOf, class WriteSmall, class WriteLarge>
void write_batch(std::span<const RowWrite> writes, std::span<const TensorInfo> tensors, const mpi::Comm& comm,
                 std::vector<std::uint8_t>& staging, FileOf&& file_of, PathOf&& path_of, OffsetOf&& offset_of,
                 WriteSmall&& write_small, WriteLarge&& write_large) {
  std::vector<FilePiece> pieces;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const RowWrite& w = writes[i];
    const TensorInfo& t = tensors[w.index];
    if (t.elements() == 0) continue;
    if (t.bytes() > kBatchedTensorBytes) {
      write_large(w);
      continue;
    }
    const std::uint64_t row_bytes = t.row_elements() * dtype_size(t.dtype);
    if (!w.rows.empty())
      pieces.push_back({file_of(w.index), offset_of(w.index) + w.rows.begin * row_bytes, w.rows.count() * row_bytes, i});
  }
  std::exception_ptr error;
  std::size_t first = 0;  // the write that begins the run being written
  try {
    for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) {
      first = run.front().item;
      write_run(run, staging, [&](std::uint64_t at, std::span<const std::uint8_t> bytes) { write_small(run.front().file, at, bytes); },
                [&](std::size_t item) { return writes[item].data; });
    });
  } catch (const std::exception& e) {
    const std::size_t index = writes[first].index;
    const std::string path = path_of(index), prefix = path + ": ";
    std::string why = e.what();
    if (why.starts_with(prefix)) why.erase(0, prefix.size());  // the file is named once
    error = std::make_exception_ptr(Error(prefix + "cannot write tensor '" + tensors[index].name + "': " + why));
  }
  comm.agree(error);
}

}  // namespace mpimerge::storage
