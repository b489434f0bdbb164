#pragma once
// Mapping between HDF5 datatypes and DType. bfloat16 and float16 are HDF5 float types with custom
// fields (see docs/checkpoint-format.md), which h5py reads as float32 / float16.
#include <map>
#include <optional>
#include <string>

#include "mpimerge/dtype.hpp"
#include "storage/hdf5/handle.hpp"

namespace mpimerge::storage::hdf5 {

// The DType a dataset's type holds, or nullopt with a description of what it is instead.
std::optional<DType> dtype_of(hid_t type, std::string& unsupported);

// A new little-endian HDF5 type for writing (and reading into memory) elements of this DType.
TypeHandle hdf5_type_for(DType dtype);

// hdf5_type_for each DType, made on first use: once per file, not once per dataset of 100k.
class ProgramTypes {
 public:
  hid_t of(DType dtype) {
    TypeHandle& type = types_[dtype];
    if (!type) type = hdf5_type_for(dtype);
    return type.get();
  }

 private:
  std::map<DType, TypeHandle> types_;
};

}  // namespace mpimerge::storage::hdf5
