#pragma once
// The loop both writers share for a batch of row writes (CheckpointWriter::write_rows_batch):
// tensors over kBatchedTensorBytes go through the backend's collective write_rows, in the batch's
// order (every rank makes the same calls); the small ones each rank writes on its own at their
// byte offset, and the batch ends in one agreement, so an error (a full disk) reaches every rank
// and names the tensor whose write failed.
#include <cstdint>
#include <exception>
#include <span>
#include <string>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge::storage {

// offset_of(index) is where tensor `index`'s bytes start in the file path_of(index) names;
// write_small(index, at, bytes) writes one rank's piece of a small tensor; write_large(write) is the
// collective write_rows.
template <class PathOf, class OffsetOf, class WriteSmall, class WriteLarge>
void write_batch(std::span<const RowWrite> writes, std::span<const TensorInfo> tensors, const mpi::Comm& comm,
                 PathOf&& path_of, OffsetOf&& offset_of, WriteSmall&& write_small, WriteLarge&& write_large) {
  std::exception_ptr error;
  for (const RowWrite& w : writes) {
    const TensorInfo& t = tensors[w.index];
    if (t.elements() == 0) continue;
    if (t.bytes() > kBatchedTensorBytes) {
      write_large(w);
      continue;
    }
    if (error || w.rows.empty()) continue;
    try {
      const std::uint64_t row_bytes = t.row_elements() * dtype_size(t.dtype);
      write_small(w.index, offset_of(w.index) + w.rows.begin * row_bytes, w.data.first(w.rows.count() * row_bytes));
    } catch (const std::exception& e) {
      const std::string path = path_of(w.index), prefix = path + ": ";
      std::string why = e.what();
      if (why.starts_with(prefix)) why.erase(0, prefix.size());  // the file is named once
      error = std::make_exception_ptr(Error(prefix + "cannot write tensor '" + t.name + "': " + why));
    }
  }
  comm.agree(error);
}

}  // namespace mpimerge::storage
