#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/presentation/log.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/generate/synthetic.hpp"
#include "mpimerge/util/size.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

int generate_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("output-dir,o", po::value<std::string>()->value_name("DIR")->required(), "directory to write base.h5, ft-1.h5, ... into (created)")
      ("params", po::value<std::string>()->value_name("N")->default_value("20M"), "parameters per model, e.g. 20M, 1B")
      ("models", po::value<std::size_t>()->value_name("N")->default_value(3), "number of fine-tuned models")
      ("dtype", po::value<std::string>()->value_name("T")->default_value("bfloat16"), "float32, float64, float16 or bfloat16")
      ("tensors", po::value<std::uint64_t>()->value_name("N"),
       "a mixture-of-experts layout of exactly N tensors of mixed sizes (two vocab x 128 matrices, then layers of "
       "norms, attention, a router and 32 experts of 3 matrices each) holding about --params parameters")
      ("vocab", po::value<std::uint64_t>()->value_name("V")->default_value(32000), "vocabulary size")
      ("seed", po::value<std::uint64_t>()->value_name("S")->default_value(0), "random seed")
      ("format", po::value<std::string>()->value_name("F")->default_value("hdf5"),
       "hdf5 (base.h5, ft-1.h5, ...) or safetensors (Hugging Face directories base/, ft-1/, ...)")
      ("shard-size", po::value<std::string>()->value_name("BYTES")->default_value("5GB"), "safetensors: largest shard")
      ("delta-scale", po::value<double>()->value_name("X")->default_value(0.05, "0.05"), "task-vector scale relative to the weights")
      ("quiet,q", "print nothing but errors");
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge generate --output-dir DIR [options]\n\n"
                     "Writes a Llama-style base checkpoint and fine-tunes of it with realistic task vectors:\n"
                     "small next to the weights, heavy-tailed, half shared between tasks; a pure function of\n"
                     "the seed, whatever the number of ranks.",
                     options, args, v, comm))
    return 0;
  const auto dtype = parse_dtype(v["dtype"].as<std::string>());
  if (!dtype || !is_float(*dtype)) throw UsageError("--dtype: expected float32, float64, float16 or bfloat16");
  const std::size_t models = v["models"].as<std::size_t>();
  if (models < 1) throw UsageError("--models must be at least 1");
  const std::uint64_t parameters = generate::parse_count(v["params"].as<std::string>());
  const std::uint64_t vocab = v["vocab"].as<std::uint64_t>();
  generate::SyntheticSpec spec;
  spec.seed = v["seed"].as<std::uint64_t>();
  spec.delta_scale = v["delta-scale"].as<double>();
  const std::string dir = v["output-dir"].as<std::string>();
  mpi::run_agreed(comm, [&] {
    if (comm.is_root()) std::filesystem::create_directories(dir);
  });

  const Log log(comm.is_root(), v.count("quiet") > 0, std::cout);
  std::vector<TensorInfo> tensors;
  std::string config;
  if (v.count("tensors")) {
    const generate::MoeShape shape = generate::moe_shape_for(v["tensors"].as<std::uint64_t>(), parameters, vocab);
    tensors = generate::moe_tensors(shape, *dtype);
    config = generate::moe_config_json(shape, *dtype);
    std::uint64_t total = 0;
    for (const TensorInfo& t : tensors) total += t.elements();
    log.line("generate " + std::to_string(models) + " fine-tunes + base, mixture of experts: " +
             std::to_string(tensors.size()) + " tensors, hidden " + std::to_string(shape.hidden) + ", " +
             std::to_string(shape.layers) + " layers of " + std::to_string(shape.experts) + " experts " +
             std::to_string(shape.expert_width) + " wide, vocab " + std::to_string(vocab) + ": " +
             format_number(static_cast<double>(total)) + " parameters per model in " + std::string(dtype_name(*dtype)));
  } else {
    const generate::LlamaShape shape = generate::llama_shape_for(parameters, vocab);
    tensors = generate::llama_tensors(shape, *dtype);
    config = generate::llama_config_json(shape, *dtype);
    log.line("generate " + std::to_string(models) + " fine-tunes + base, Llama-style hidden " + std::to_string(shape.hidden) +
             ", " + std::to_string(shape.layers) + " layers, intermediate " + std::to_string(shape.intermediate) +
             ", vocab " + std::to_string(shape.vocab) + ": " + format_number(static_cast<double>(shape.parameters())) +
             " parameters per model in " + std::string(dtype_name(*dtype)));
  }
  storage::OutputSpec format;
  const std::string format_name = v["format"].as<std::string>();
  if (format_name == "safetensors") format.format = storage::Format::hf_directory;
  else if (format_name != "hdf5") throw UsageError("--format: expected hdf5 or safetensors");
  format.shard_bytes = parse_size(v["shard-size"].as<std::string>());
  const auto paths = generate::write_synthetic_set(dir, tensors, config, models, spec, comm, format);
  for (const auto& p : paths) log.line("wrote   " + p);
  return 0;
}

}  // namespace mpimerge::cli
