#pragma once
// Property lists of the HDF5 writer's parallel (MPI-IO) access.
#include "mpimerge/mpi/comm.hpp"
#include "storage/hdf5/handle.hpp"

namespace mpimerge::storage::hdf5 {

// MPI-IO driver with collective metadata reads and writes: rank 0 reads metadata and broadcasts
// it, which keeps hundreds of ranks from hammering the file system with the same small reads.
PropertyList parallel_file_access(const mpi::Comm& comm);

// Collective data transfers (each call involves every rank).
PropertyList collective_transfer();

}  // namespace mpimerge::storage::hdf5
