#pragma once
// The communicator MPI tests run on.
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge::testing {
inline const mpi::Comm& world() {
  static const mpi::Comm comm = mpi::Comm::world();
  return comm;
}
}  // namespace mpimerge::testing
