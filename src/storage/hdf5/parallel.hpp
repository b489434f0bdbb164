#pragma once
// Property lists and selections shared by the HDF5 reader and writer.
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/tensor.hpp"
#include "storage/hdf5/handle.hpp"

namespace mpimerge::storage::hdf5 {

// MPI-IO driver with collective metadata reads and writes: rank 0 reads metadata and broadcasts
// it, which keeps hundreds of ranks from hammering the file system with the same small reads.
PropertyList parallel_file_access(const mpi::Comm& comm);

// Collective data transfers (each call involves every rank).
PropertyList collective_transfer();

struct RowSelection {
  SpaceHandle file;
  SpaceHandle memory;
};

// Rows [begin, end) of a dataset (every element of a 0-d one for the rank that owns row 0), or an
// empty selection, so that ranks without rows still take part in the collective call.
RowSelection select_rows(hid_t dataset, const TensorInfo& tensor, RowRange rows);

}  // namespace mpimerge::storage::hdf5
