#pragma once
// `mpimerge convert SRC DST`: copies every tensor of a checkpoint into another format, in parallel
// (each rank moves its rows of every tensor), byte for byte, keeping the tensors' order, names,
// shapes and dtypes. A Hugging Face directory output also gets the source's config and tokenizer
// files. Collective; errors are agreed on as in run_merge.
#include <cstdint>
#include <string>

#include "mpimerge/presentation/log.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

struct ConvertJob {
  std::string source, output;
  std::string output_format;                  // "", "hdf5" or "safetensors"
  std::uint64_t shard_bytes = 5'000'000'000;
  bool overwrite = false;
};

struct ConvertSummary {
  std::size_t tensors = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

ConvertSummary run_convert(const ConvertJob& job, const mpi::Comm& comm, const Log& log);

}  // namespace mpimerge
