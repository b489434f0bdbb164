#pragma once
// `mpimerge inspect PATH...`: what each checkpoint holds (every tensor's dtype, shape and bytes,
// and the totals) and, with several, whether they can be merged: the same names and shapes, and
// non-float tensors of one dtype, with every difference listed. Metadata only: no tensor data is
// read. Collective; the report is the same on every rank.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mpimerge/tensor.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

struct CheckpointListing {
  std::string path;
  std::string kind;  // "HDF5 file", "Hugging Face directory, 2 shards ...", ...
  std::vector<TensorInfo> tensors;
  std::uint64_t bytes = 0, parameters = 0;
  std::map<std::string, std::size_t> tensors_per_dtype;  // "BF16" -> count
};

struct InspectReport {
  std::vector<CheckpointListing> checkpoints;
  std::vector<std::string> problems;  // why they cannot be merged (several paths only)
  bool mergeable() const { return problems.empty(); }
};

InspectReport inspect_checkpoints(const std::vector<std::string>& paths, const mpi::Comm& comm);

// The report as `mpimerge inspect` prints it; with tensor_lines false, only the totals.
std::string format_inspect(const InspectReport& report, bool tensor_lines);

}  // namespace mpimerge
