#include "storage/hdf5/parallel.hpp"

namespace mpimerge::storage::hdf5 {

PropertyList parallel_file_access(const mpi::Comm& comm) {
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(file access)");
  check(H5Pset_fapl_mpio(fapl.get(), comm.native(), MPI_INFO_NULL), "H5Pset_fapl_mpio");
  check(H5Pset_all_coll_metadata_ops(fapl.get(), 1), "H5Pset_all_coll_metadata_ops");
  check(H5Pset_coll_metadata_write(fapl.get(), 1), "H5Pset_coll_metadata_write");
  return fapl;
}

PropertyList collective_transfer() {
  PropertyList dxpl(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate(transfer)");
  check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return dxpl;
}

}  // namespace mpimerge::storage::hdf5
