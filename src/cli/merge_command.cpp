#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/engine/engine.hpp"
#include "mpimerge/engine/progress.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/memory.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;
namespace {

std::string method_list() {
  std::string text;
  for (const auto& m : method_registry()) text += "\n  " + std::string(m.name) + ": " + std::string(m.summary);
  return text;
}

MergeJob job_from(const po::variables_map& v) {
  MergeJob job;
  if (v.count("base")) job.base = v["base"].as<std::string>();
  if (v.count("model")) job.models = v["model"].as<std::vector<std::string>>();
  job.output = v["output"].as<std::string>();
  job.output_format = v["output-format"].as<std::string>();
  job.shard_bytes = storage::parse_byte_size(v["shard-size"].as<std::string>());
  job.method.method = v["method"].as<std::string>();
  job.method.density = parse_density(v["density"].as<double>());
  job.method.lambda = v["lambda"].as<double>();
  if (!std::isfinite(job.method.lambda)) throw UsageError("lambda must be a finite number");
  job.method.trim_scope = parse_trim_scope(v["trim-scope"].as<std::string>());
  job.method.disjoint_merge = parse_disjoint_merge(v["disjoint-merge"].as<std::string>());
  if (v.count("weight")) job.method.weights = v["weight"].as<std::vector<double>>();
  if (v.count("out-dtype")) {
    const std::string name = v["out-dtype"].as<std::string>();
    const auto dtype = parse_dtype(name);
    if (!dtype || !is_float(*dtype))
      throw UsageError("--out-dtype '" + name + "': expected float32, float64, float16 or bfloat16");
    job.out_dtype = dtype;
  }
  if (v.count("memory-budget")) job.memory_budget = parse_memory_size(v["memory-budget"].as<std::string>());
  job.overwrite = v.count("overwrite") > 0;
  job.resume = v.count("resume") > 0;
  job.allow_nonfinite = v.count("allow-nonfinite") > 0;
  job.quiet = v.count("quiet") > 0;
  if (v.count("report")) job.report_path = v["report"].as<std::string>();
  job.report = v.count("no-report") == 0;
  job.progress = v["progress"].as<std::string>();
  Progress::style_for(true, false, job.progress);  // refuses an unknown style here, on every rank
  return job;
}

}  // namespace

int merge_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("base", po::value<std::string>()->value_name("PATH"), "the pre-trained checkpoint the models were fine-tuned from (HDF5, .safetensors or a Hugging Face directory)")
      ("model", po::value<std::vector<std::string>>()->value_name("PATH")->composing(),
       "a fine-tuned checkpoint; repeat for each model, in order")
      ("output,o", po::value<std::string>()->value_name("PATH")->required(),
       "where to write the merged checkpoint: a .h5 file, a .safetensors file, or a directory (DIR/) for a Hugging Face checkpoint")
      ("output-format", po::value<std::string>()->value_name("F")->default_value(""), "hdf5 or safetensors (default: from --output)")
      ("shard-size", po::value<std::string>()->value_name("SIZE")->default_value("5GB"),
       "Hugging Face directory output: largest shard, in bytes (5GB = 5e9, 2GiB = 2^31)")
      ("method", po::value<std::string>()->value_name("NAME")->default_value("ties"), ("merge method:" + method_list()).c_str())
      ("density", po::value<double>()->value_name("K")->default_value(0.2, "0.2"),
       "ties: share of each task vector kept by the trim, a fraction in (0, 1] or a percentage in (1, 100]")
      ("lambda", po::value<double>()->value_name("L")->default_value(1.0, "1"),
       "ties, task_arithmetic: scale of the merged task vector")
      ("trim-scope", po::value<std::string>()->value_name("S")->default_value("model"),
       "ties: rank magnitudes over the whole model (model, the paper) or within each tensor (tensor, as mergekit/PEFT)")
      ("disjoint-merge", po::value<std::string>()->value_name("F")->default_value("mean"),
       "ties: combine the entries that agree with the elected sign by mean, sum or max")
      ("weight", po::value<std::vector<double>>()->value_name("W")->composing(),
       "average: weight of each model, repeated in model order (default: equal)")
      ("out-dtype", po::value<std::string>()->value_name("T"), "dtype of merged tensors: float32, float64, float16, bfloat16 (default: the base's)")
      ("memory-budget", po::value<std::string>()->value_name("SIZE"),
       "memory per rank for tensor slices, e.g. 4G (default: 70% of the node's memory shared by its ranks); "
       "a merge that does not fit streams its inputs in groups")
      ("overwrite", "replace an existing output")
      ("allow-nonfinite", "merge inputs that hold NaN or infinity (refused by default, naming the file and tensor)")
      ("resume", "continue an interrupted merge of the same job (a killed rank, a time limit) from its journal "
       "beside OUTPUT.partial; the result is the same bytes as an uninterrupted merge")
      ("report", po::value<std::string>()->value_name("PATH"),
       "where to write the JSON report of the merge (default: OUTPUT.report.json beside the output)")
      ("no-report", "write no report")
      ("progress", po::value<std::string>()->value_name("STYLE")->default_value("auto"),
       "progress of long phases: bar, lines (a line every 15 s, for logs), none, or auto: a bar on a terminal "
       "outside Slurm, else lines")
      ("quiet,q", "print nothing but errors");
  po::variables_map values;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge merge --base BASE --model A --model B ... --output OUT [options]",
                     options, args, values, comm))
    return 0;
  MergeJob job = job_from(values);
  job.command_line = command_line(args);
  const Log log(comm.is_root(), job.quiet, std::cout);
  run_merge(job, comm, log);
  return 0;
}

}  // namespace mpimerge::cli
