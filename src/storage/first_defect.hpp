#pragma once
// When ranks check different parts of one input side by side (shards' headers, an HDF5 file's
// datasets), the error every rank reports is the first in the input's own order, as one process
// checking the parts in turn would report it: the same message at any rank count.
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge::storage {

struct Defect {
  std::uint64_t position = 0;  // in an order every rank shares: a shard's index, a dataset's place
  std::string message;
};

// Collective. mine: the first defect this rank met, or nothing. When any rank met one, every rank
// throws InputError with the message of the lowest position (at a tie, the lowest rank's).
inline void agree_on_first_defect(const mpi::Comm& comm, const std::optional<Defect>& mine) {
  const auto ranks = static_cast<std::uint64_t>(comm.size());
  // position * ranks + rank, as a double (exact below 2^53): the minimum names the defect and the
  // rank that holds its message.
  double first = mine ? static_cast<double>(mine->position * ranks + static_cast<std::uint64_t>(comm.rank()))
                      : std::numeric_limits<double>::infinity();
  comm.min(std::span(&first, 1));
  if (first == std::numeric_limits<double>::infinity()) return;
  std::string message = mine ? (mine->message.empty() ? "unknown error" : mine->message) : "";
  comm.broadcast(message, static_cast<int>(static_cast<std::uint64_t>(first) % ranks));
  throw InputError(message);
}

}  // namespace mpimerge::storage
