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

std::vector<std::string> write_synthetic_set(const std::string& dir, const LlamaShape& shape,
                                             DType dtype, std::size_t models,
                                             const SyntheticSpec& spec, const mpi::Comm& comm,
                                             const storage::OutputSpec& format) {
  const std::vector<TensorInfo> tensors = llama_tensors(shape, dtype);
  const bool hf = format.format == storage::Format::hf_directory;
  std::vector<std::string> paths;
  std::vector<float> values;
  std::vector<std::uint8_t> raw;
  for (std::size_t model = 0; model <= models; ++model) {
    const std::string name = (model == 0 ? std::string("base") : "ft-" + std::to_string(model)) + (hf ? "" : ".h5");
    paths.push_back((std::filesystem::path(dir) / name).string());
    if (hf)  // a Hugging Face directory gets the config that describes its tensors
      mpi::run_agreed(comm, [&] {
        if (!comm.is_root()) return;
        std::filesystem::create_directories(paths.back());
        std::ofstream(std::filesystem::path(paths.back()) / "config.json") << llama_config_json(shape, dtype);
      });
    auto writer = storage::create_checkpoint(paths.back(), format, tensors, comm);
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      const TensorInfo& info = tensors[t];
      const RowRange mine = owned_rows(info.rows(), comm.rank(), comm.size());
      const std::uint64_t row_elements = info.row_elements();
      for_each_transfer(most_rows_per_rank(info.rows(), comm.size()), mine, row_elements * dtype_size(dtype), [&](RowRange part) {
        values.resize(part.count() * row_elements);
        raw.resize(values.size() * dtype_size(dtype));
        synthetic_values(spec, info, model, part.begin * row_elements, values);
        encode<float>(values, dtype, raw);
        writer->write_rows(t, part, raw);
      });
    }
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
