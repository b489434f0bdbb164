#pragma once
// Synthetic checkpoints with the tensor names and shapes of a Llama-style model, and fine-tunes
// whose task vectors look like real ones: small next to the weights, heavy-tailed, partly shared
// between tasks (so signs agree and conflict as in real merges). Values are counter-based, so the
// files are the same whatever the number of ranks that write them.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/tensor.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge::generate {

struct LlamaShape {
  std::uint64_t hidden = 0, intermediate = 0, layers = 0, vocab = 0;
  std::uint64_t parameters() const;
};

// The Llama-style shape whose parameter count is closest to `parameters` (hidden a multiple of
// 64, layers = hidden / 128 as in Llama-2, intermediate ~ 8/3 hidden, vocabulary 32000 unless given).
LlamaShape llama_shape_for(std::uint64_t parameters, std::uint64_t vocab = 32000);

// Hugging Face LlamaForCausalLM names and [out, in] shapes, in dtype.
std::vector<TensorInfo> llama_tensors(const LlamaShape& shape, DType dtype);

struct SyntheticSpec {
  std::uint64_t seed = 0;
  double delta_scale = 0.05;  // task-vector scale relative to the weights' scale
  double shared = 0.5;        // weight of the component shared by all tasks
};

// Values of elements [first, first + out.size()) of a tensor, in flat order. model 0 is the base;
// model t > 0 is the base plus task vector t.
void synthetic_values(const SyntheticSpec& spec, const TensorInfo& tensor, std::size_t model,
                      std::uint64_t first, std::span<float> out);

// A mixture-of-experts layout with many tensors of mixed sizes (as DeepSeek-V3's ~90k): two large
// vocab x hidden matrices, then per layer two norms, four hidden x hidden attention matrices, a
// router and `experts` experts of three matrices each (gate, up, down), the last layer cut short
// so that there are exactly `count` tensors (at least 8). The experts' width is chosen so that the
// model holds about `parameters` parameters (at least 8).
struct MoeShape {
  std::uint64_t count = 0, hidden = 0, expert_width = 0, experts = 0, layers = 0, vocab = 0;
};
MoeShape moe_shape_for(std::uint64_t count, std::uint64_t parameters, std::uint64_t vocab = 32000);
std::vector<TensorInfo> moe_tensors(const MoeShape& shape, DType dtype);

// The config.json of a MixtralForCausalLM-like model with this shape.
std::string moe_config_json(const MoeShape& shape, DType dtype);

// Writes the base and `models` fine-tunes into dir: base.h5, ft-1.h5, ... or, for Hugging Face
// directories, base/, ft-1/, ... each with a config.json; collective. Returns the paths written,
// the base first.
std::vector<std::string> write_synthetic_set(const std::string& dir, const LlamaShape& shape,
                                             DType dtype, std::size_t models,
                                             const SyntheticSpec& spec, const mpi::Comm& comm,
                                             const storage::OutputSpec& format = {});

// The same for any list of tensors; config_json is written into Hugging Face directories.
std::vector<std::string> write_synthetic_set(const std::string& dir, const std::vector<TensorInfo>& tensors,
                                             const std::string& config_json, std::size_t models,
                                             const SyntheticSpec& spec, const mpi::Comm& comm,
                                             const storage::OutputSpec& format = {});

// The config.json of a LlamaForCausalLM with this shape.
std::string llama_config_json(const LlamaShape& shape, DType dtype);

// "20M", "1.5B", "7b", "350000": a parameter count. Throws UsageError on anything else.
std::uint64_t parse_count(const std::string& text);

}  // namespace mpimerge::generate
