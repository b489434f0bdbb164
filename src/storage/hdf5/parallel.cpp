#include "storage/hdf5/parallel.hpp"

#include <vector>

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

RowSelection select_rows(hid_t dataset, const TensorInfo& tensor, RowRange rows) {
  RowSelection s;
  s.file = SpaceHandle(H5Dget_space(dataset), "H5Dget_space(" + tensor.name + ")");
  if (rows.empty()) {
    check(H5Sselect_none(s.file.get()), "H5Sselect_none");
    const hsize_t one = 1;
    s.memory = SpaceHandle(H5Screate_simple(1, &one, nullptr), "H5Screate_simple");
    check(H5Sselect_none(s.memory.get()), "H5Sselect_none");
    return s;
  }
  if (tensor.shape.empty()) {  // 0-d: the whole (scalar) space
    s.memory = SpaceHandle(H5Screate(H5S_SCALAR), "H5Screate");
    return s;
  }
  std::vector<hsize_t> start(tensor.shape.size(), 0), count(tensor.shape.begin(), tensor.shape.end());
  start[0] = rows.begin;
  count[0] = rows.count();
  check(H5Sselect_hyperslab(s.file.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
        "H5Sselect_hyperslab(" + tensor.name + ")");
  const hsize_t elements = rows.count() * tensor.row_elements();
  s.memory = SpaceHandle(H5Screate_simple(1, &elements, nullptr), "H5Screate_simple");
  return s;
}

}  // namespace mpimerge::storage::hdf5
