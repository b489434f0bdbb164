#pragma once
// Row selections of datasets, shared by the HDF5 reader and writer. Serial HDF5 only (no MPI).
#include "mpimerge/tensor.hpp"
#include "storage/hdf5/handle.hpp"

namespace mpimerge::storage::hdf5 {

struct RowSelection {
  SpaceHandle file;
  SpaceHandle memory;
};

// Rows [begin, end) of a dataset (every element of a 0-d one for the rank that owns row 0), or an
// empty selection where that holds no element (no rows, or a tensor with a zero-sized dimension
// such as [5, 0]), so that ranks without rows still take part in a collective call.
RowSelection select_rows(hid_t dataset, const TensorInfo& tensor, RowRange rows);

}  // namespace mpimerge::storage::hdf5
