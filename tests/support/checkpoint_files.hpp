#pragma once
// Test helpers: random checkpoint sets that stress ties, cancellations and every dtype, written and
// read back whole through the storage layer (collectively, from any number of ranks).
#include <cstdint>
#include <string>
#include <vector>

#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/tensor.hpp"

namespace mpimerge::testing {

using RawTensor = std::vector<std::uint8_t>;
using RawCheckpoint = std::vector<RawTensor>;  // per tensor, whole, in the tensor's dtype

struct CheckpointSet {
  std::vector<TensorInfo> tensors;
  RawCheckpoint base;
  std::vector<RawCheckpoint> models;
};

struct SetOptions {
  std::size_t models = 3;
  std::uint64_t seed = 1;
  bool with_f64 = true;          // a float64 tensor makes model-scope keys 64-bit
  bool with_non_float = true;    // integer tensors, copied from the base
  double positive_bias = 0.55;   // share of positive deltas (decides the zero-sum fallback sign)
};

// Tensors of shapes [7,5], [3], [13,4,2], [2,3] (fewer rows than ranks), [1], [] (0-d), [0,4]
// (empty), [301], in F32/BF16/F16/F64, plus I64 and U8 ones. Deltas come from a small set of
// values with many exact zeros, so thresholds fall on ties and sums cancel exactly.
CheckpointSet random_checkpoint_set(const SetOptions& options);

// Collective: every rank writes its own rows of every tensor (in the format the path asks for, or
// as spec says).
void write_checkpoint(const std::string& path, const std::vector<TensorInfo>& tensors,
                      const RawCheckpoint& data, const mpi::Comm& comm);
void write_checkpoint(const std::string& path, const storage::OutputSpec& spec, const std::vector<TensorInfo>& tensors,
                      const RawCheckpoint& data, const mpi::Comm& comm);

// Collective: every rank reads every tensor whole.
std::vector<TensorInfo> read_checkpoint(const std::string& path, RawCheckpoint& data, const mpi::Comm& comm);

// A fresh directory, made by rank 0 and named to all ranks; removed by rank 0 on destruction.
class SharedTempDir {
 public:
  explicit SharedTempDir(const mpi::Comm& comm);
  ~SharedTempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  const mpi::Comm& comm_;
  std::string path_;
};

}  // namespace mpimerge::testing
