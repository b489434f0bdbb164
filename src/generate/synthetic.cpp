#include "mpimerge/generate/synthetic.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mpimerge/convert.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/counter_rng.hpp"

namespace mpimerge::generate {
namespace {

std::uint64_t round_up(std::uint64_t x, std::uint64_t m) { return (x + m - 1) / m * m; }

// An approximately standard normal from 48 random bits (sum of three uniforms, Irwin-Hall), times
// a heavy-tail factor from 4 more bits: 3/16 of the values are 2.5x and 1/16 are 8x wider.
float heavy_tailed(std::uint64_t bits, bool tails) {
  const double u = static_cast<double>(bits & 0xFFFF) + static_cast<double>((bits >> 16) & 0xFFFF) +
                   static_cast<double>((bits >> 32) & 0xFFFF);
  const double z = (u / 65536.0 - 1.5) * 2.0;
  if (!tails) return static_cast<float>(z);
  const unsigned tail = static_cast<unsigned>(bits >> 60);
  return static_cast<float>(z * (tail == 15 ? 8.0 : tail >= 12 ? 2.5 : 1.0));
}

bool is_norm(const std::string& name) { return name.find("norm") != std::string::npos; }

}  // namespace

std::uint64_t LlamaShape::parameters() const {
  const std::uint64_t per_layer = 4 * hidden * hidden + 3 * hidden * intermediate + 2 * hidden;
  return 2 * vocab * hidden + layers * per_layer + hidden;
}

LlamaShape llama_shape_for(std::uint64_t parameters, std::uint64_t vocab) {
  LlamaShape best;
  std::uint64_t best_gap = ~std::uint64_t{0};
  for (std::uint64_t hidden = 64; hidden <= 16384; hidden += 64) {
    LlamaShape s{hidden, round_up(hidden * 8 / 3, 64), std::clamp<std::uint64_t>((hidden + 64) / 128, 2, 126), vocab};
    const std::uint64_t p = s.parameters();
    const std::uint64_t gap = p > parameters ? p - parameters : parameters - p;
    if (gap < best_gap) {
      best_gap = gap;
      best = s;
    }
  }
  return best;
}

std::vector<TensorInfo> llama_tensors(const LlamaShape& s, DType dtype) {
  std::vector<TensorInfo> t;
  const std::uint64_t h = s.hidden, m = s.intermediate;
  t.push_back({"model.embed_tokens.weight", dtype, {s.vocab, h}});
  for (std::uint64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
      t.push_back({p + "self_attn." + proj + ".weight", dtype, {h, h}});
    t.push_back({p + "mlp.gate_proj.weight", dtype, {m, h}});
    t.push_back({p + "mlp.up_proj.weight", dtype, {m, h}});
    t.push_back({p + "mlp.down_proj.weight", dtype, {h, m}});
    t.push_back({p + "input_layernorm.weight", dtype, {h}});
    t.push_back({p + "post_attention_layernorm.weight", dtype, {h}});
  }
  t.push_back({"model.norm.weight", dtype, {h}});
  t.push_back({"lm_head.weight", dtype, {s.vocab, h}});
  return t;
}

void synthetic_values(const SyntheticSpec& spec, const TensorInfo& tensor, std::size_t model,
                      std::uint64_t first, std::span<float> out) {
  const bool norm = is_norm(tensor.name);
  const double scale = 0.02;  // Hugging Face's initializer_range
  const double delta = spec.delta_scale * scale;
  const double shared = std::sqrt(spec.shared), own = std::sqrt(1.0 - spec.shared);
  const CounterRng base_rng(spec.seed, 0, 0, tensor.name), shared_rng(spec.seed, 0, 1, tensor.name);
  const CounterRng task_rng(spec.seed, model, 2, tensor.name);
  for (std::size_t j = 0; j < out.size(); ++j) {
    const std::uint64_t i = first + j;
    double value = (norm ? 1.0 : 0.0) + scale * heavy_tailed(base_rng.bits(i), false);
    if (model > 0)
      value += delta * (shared * heavy_tailed(shared_rng.bits(i), true) + own * heavy_tailed(task_rng.bits(i), true));
    out[j] = static_cast<float>(value);
  }
}

std::string llama_config_json(const LlamaShape& shape, DType dtype) {
  const std::uint64_t heads = std::max<std::uint64_t>(1, shape.hidden / 64);
  nlohmann::ordered_json config = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
      {"hidden_size", shape.hidden}, {"intermediate_size", shape.intermediate},
      {"num_hidden_layers", shape.layers}, {"num_attention_heads", heads}, {"num_key_value_heads", heads},
      {"vocab_size", shape.vocab}, {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5},
      {"hidden_act", "silu"}, {"tie_word_embeddings", false},
      {"torch_dtype", dtype == DType::bf16 ? "bfloat16" : dtype == DType::f16 ? "float16" : dtype == DType::f64 ? "float64" : "float32"}};
  return config.dump(2) + "\n";
}

namespace {
constexpr std::uint64_t kMoeHidden = 128, kMoeExperts = 32;
constexpr std::uint64_t kMoeLayerTensors = 2 + 4 + 1 + 3 * kMoeExperts;
}  // namespace

MoeShape moe_shape_for(std::uint64_t count, std::uint64_t parameters, std::uint64_t vocab) {
  if (count < 8) throw UsageError("--tensors: at least 8");
  MoeShape s;
  s.count = count;
  s.hidden = kMoeHidden;
  s.experts = kMoeExperts;
  s.vocab = vocab;
  s.layers = (count - 3 + kMoeLayerTensors - 1) / kMoeLayerTensors;
  // Everything but the experts' matrices, then the width that brings the total to `parameters`.
  const std::uint64_t h = s.hidden, fixed = 2 * vocab * h + h + s.layers * (2 * h + 4 * h * h + s.experts * h);
  const std::uint64_t others = s.layers * (2 + 4 + 1);  // the last layer may have fewer
  const std::uint64_t expert_matrices = count - 3 > others ? count - 3 - others : 1;
  s.expert_width = parameters > fixed ? std::max<std::uint64_t>(1, (parameters - fixed) / (expert_matrices * h)) : 1;
  return s;
}

std::vector<TensorInfo> moe_tensors(const MoeShape& s, DType dtype) {
  std::vector<TensorInfo> t;
  const std::uint64_t h = s.hidden, w = s.expert_width;
  t.push_back({"model.embed_tokens.weight", dtype, {s.vocab, h}});
  const std::uint64_t body = s.count - 3;
  auto add = [&](std::string name, std::vector<std::uint64_t> shape) {
    if (t.size() < 1 + body) t.push_back({std::move(name), dtype, std::move(shape)});
  };
  for (std::uint64_t l = 0; t.size() < 1 + body; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {h});
    add(p + "post_attention_layernorm.weight", {h});
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) add(p + "self_attn." + proj + ".weight", {h, h});
    add(p + "block_sparse_moe.gate.weight", {s.experts, h});
    for (std::uint64_t e = 0; e < s.experts; ++e) {
      const std::string x = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
      add(x + "w1.weight", {w, h});
      add(x + "w3.weight", {w, h});
      add(x + "w2.weight", {h, w});
    }
  }
  t.push_back({"model.norm.weight", dtype, {h}});
  t.push_back({"lm_head.weight", dtype, {s.vocab, h}});
  return t;
}

std::string moe_config_json(const MoeShape& shape, DType dtype) {
  nlohmann::ordered_json config = {
      {"architectures", {"MixtralForCausalLM"}}, {"model_type", "mixtral"},
      {"hidden_size", shape.hidden}, {"intermediate_size", shape.expert_width},
      {"num_hidden_layers", shape.layers}, {"num_attention_heads", 2}, {"num_key_value_heads", 2},
      {"num_local_experts", shape.experts}, {"num_experts_per_tok", 2},
      {"vocab_size", shape.vocab}, {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5},
      {"hidden_act", "silu"}, {"tie_word_embeddings", false},
      {"torch_dtype", dtype == DType::bf16 ? "bfloat16" : dtype == DType::f16 ? "float16" : dtype == DType::f64 ? "float64" : "float32"}};
  return config.dump(2) + "\n";
}

std::vector<std::string> write_synthetic_set(const std::string& dir, const LlamaShape& shape,
                                             DType dtype, std::size_t models,
                                             const SyntheticSpec& spec, const mpi::Comm& comm,
                                             const storage::OutputSpec& format) {
  return write_synthetic_set(dir, llama_tensors(shape, dtype), llama_config_json(shape, dtype), models, spec, comm, format);
}

std::vector<std::string> write_synthetic_set(const std::string& dir, const std::vector<TensorInfo>& tensors,
                                             const std::string& config_json, std::size_t models,
                                             const SyntheticSpec& spec, const mpi::Comm& comm,
                                             const storage::OutputSpec& format) {
  const bool hf = format.format == storage::Format::hf_directory;
  std::vector<std::string> paths;
  std::vector<float> values;
  for (std::size_t model = 0; model <= models; ++model) {
    const std::string name = (model == 0 ? std::string("base") : "ft-" + std::to_string(model)) + (hf ? "" : ".h5");
    paths.push_back((std::filesystem::path(dir) / name).string());
    if (hf)  // a Hugging Face directory gets the config that describes its tensors
      mpi::run_agreed(comm, [&] {
        if (!comm.is_root()) return;
        std::filesystem::create_directories(paths.back());
        std::ofstream(std::filesystem::path(paths.back()) / "config.json") << config_json;
      });
    auto writer = storage::create_checkpoint(paths.back(), format, tensors, comm);
    // Written in batches of about kBatchBytes (counted on rank 0, so that every rank makes the
    // same calls): one collective step for many small tensors.
    constexpr std::uint64_t kBatchBytes = std::uint64_t{64} << 20;
    std::vector<std::vector<std::uint8_t>> held;
    std::vector<storage::RowWrite> writes;
    std::uint64_t batch_bytes = 0;
    auto flush = [&] {
      writer->write_rows_batch(writes);
      writes.clear();
      held.clear();
      batch_bytes = 0;
    };
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      const TensorInfo& info = tensors[t];
      const RowRange mine = owned_rows(info.rows(), comm.rank(), comm.size());
      const std::uint64_t row_elements = info.row_elements(), row_bytes = row_elements * dtype_size(info.dtype);
      const std::uint64_t rank0_rows = most_rows_per_rank(info.rows(), comm.size());
      for_each_transfer(rank0_rows, mine, row_bytes, [&](RowRange part) {
        values.resize(part.count() * row_elements);
        held.emplace_back(values.size() * dtype_size(info.dtype));
        synthetic_values(spec, info, model, part.begin * row_elements, values);
        encode<float>(values, info.dtype, held.back());
        writes.push_back({t, part, held.back()});
      });
      batch_bytes += rank0_rows * row_bytes;
      if (batch_bytes >= kBatchBytes) flush();
    }
    flush();
    writer->finish();
  }
  return paths;
}

std::uint64_t parse_count(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw UsageError("'" + text + "' is not a count (e.g. 20M, 1.5B)");
  }
  const std::string suffix = text.substr(used);
  double unit = 1;
  if (suffix == "k" || suffix == "K") unit = 1e3;
  else if (suffix == "m" || suffix == "M") unit = 1e6;
  else if (suffix == "b" || suffix == "B" || suffix == "g" || suffix == "G") unit = 1e9;
  else if (!suffix.empty()) throw UsageError("'" + text + "' is not a count (e.g. 20M, 1.5B)");
  if (!(value > 0)) throw UsageError("'" + text + "' is not a positive count");
  return static_cast<std::uint64_t>(value * unit);
}

}  // namespace mpimerge::generate
