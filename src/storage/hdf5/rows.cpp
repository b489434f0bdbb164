#include "storage/hdf5/rows.hpp"

#include <vector>

namespace mpimerge::storage::hdf5 {

RowSelection select_rows(hid_t dataset, const TensorInfo& tensor, RowRange rows) {
  RowSelection s;
  s.file = SpaceHandle(H5Dget_space(dataset), "H5Dget_space(" + tensor.name + ")");
  // HDF5 refuses a hyperslab with a zero count ("unable to get iterator block"): a selection
  // without elements is "none", in memory as in the file.
  if (rows.empty() || tensor.row_elements() == 0) {
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
