#pragma once
// Rank 0 reads, every rank gets the same bytes or the same error: the pattern every header, index
// and HDF5 catalog read of the storage backends follows, so that all ranks fail alike and none waits.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge::storage {

// Collective. read() runs on rank 0 only; its result, or its error message, reaches every rank.
template <class Read>
std::vector<std::uint8_t> read_on_root(const mpi::Comm& comm, Read&& read) {
  std::vector<std::uint8_t> bytes;
  std::string error;
  if (comm.is_root()) {
    try {
      bytes = read();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
      bytes.clear();
    }
  }
  comm.broadcast(error);
  if (!error.empty()) throw InputError(error);
  comm.broadcast(bytes);
  return bytes;
}

}  // namespace mpimerge::storage
