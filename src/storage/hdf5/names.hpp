#pragma once
// Which tensors an HDF5 output cannot hold. mpimerge writes one dataset per tensor, its name the
// dataset's path, so that h5py users see `f["model.layers.0.mlp.weight"]`. HDF5 reads '/' in that
// path as a separator of groups: a leading, trailing or doubled '/' or a '.' part would be read
// back as another name, and a tensor `p` beside `p/q` would have to be a group and a dataset at
// once. Such names, and shapes of more than HDF5's 32 dimensions, are refused before the output is
// created (docs/checkpoint-format.md); safetensors outputs hold them as they are.
#include <string>
#include <vector>

#include "mpimerge/tensor.hpp"

namespace mpimerge::storage::hdf5 {

// "" when every tensor can be written as it is, else why the first that cannot, naming it.
std::string unwritable_in_hdf5(const std::vector<TensorInfo>& tensors);

}  // namespace mpimerge::storage::hdf5
