#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "mpimerge/commands/merge.hpp"
#include "mpimerge/presentation/progress.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/job/job_file.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/memory.hpp"
#include "mpimerge/util/size.hpp"
#include "mpimerge/util/text_file.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;
namespace {

std::string method_list() {
  std::string text;
  for (const MethodSpec* m : method_registry()) text += "\n  " + std::string(m->name) + ": " + std::string(m->summary);
  return text;
}

// Rank 0 reads the job file; every rank parses the same text.
std::string read_job_file(const std::string& path, const mpi::Comm& comm) {
  std::string text;
  mpi::run_agreed(comm, [&] {
    if (comm.is_root()) text = read_text_file(path, "job file", job::kMaxJobFileBytes);
  });
  comm.broadcast(text);
  return text;
}

// Drops a parameter from the table, globally and for every model.
void erase_everywhere(MethodOptions& method, const std::string& name) {
  ParameterTable updated;
  for (const auto& [key, setting] : method.params.global())
    if (key != name) updated.set_global(key, setting);
  for (std::size_t m = 0; m < method.params.models_with_settings(); ++m)
    for (const auto& [key, setting] : method.params.model(m))
      if (key != name) updated.set_model(m, key, setting);
  method.params = std::move(updated);
}

std::string flag_of(std::string_view parameter) {
  std::string flag(parameter);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

// One flag per parameter any method declares (--density, --lambda, --trim-scope, --gamma, ...) and
// one per side input (--fisher, --gram), from the declarations: a new method's parameters get
// their flags without a line here. Each writes into the parameter table, as a job file does.
struct MethodFlags {
  std::vector<std::string> parameters;   // parameter names, in registry order
  std::vector<std::string> side_inputs;  // side input names
};

MethodFlags add_method_flags(po::options_description& options) {
  MethodFlags flags;
  std::map<std::string, std::string> help, takers, side_help;
  std::set<std::string> per_model;
  for (const MethodSpec* spec : method_registry()) {
    for (const ParameterDef& def : spec->parameters) {
      if (def.inert) continue;
      const std::string name(def.name);
      if (!help.count(name)) {
        flags.parameters.push_back(name);
        help[name] = std::string(def.help);
      }
      takers[name] += (takers[name].empty() ? "" : ", ") + std::string(spec->name);
      if (def.scope == ParameterScope::per_model) per_model.insert(name);
    }
    for (const SideInputDef& input : spec->side_inputs)
      if (side_help.emplace(std::string(input.name), std::string(spec->name) + ": " + std::string(input.help)).second)
        flags.side_inputs.emplace_back(input.name);
  }
  for (const std::string& name : flags.parameters)
    options.add_options()(flag_of(name).c_str(), po::value<std::vector<std::string>>()->value_name("V")->composing(),
                          (help[name] + " [" + takers[name] + "]" +
                           (per_model.count(name) ? "; once for every model, or once per model in model order" : ""))
                              .c_str());
  for (const std::string& name : flags.side_inputs)
    options.add_options()(name.c_str(), po::value<std::vector<std::string>>()->value_name("PATH")->composing(),
                          side_help[name].c_str());
  return flags;
}

bool given(const po::variables_map& v, const char* option) { return v.count(option) && !v[option].defaulted(); }

std::optional<DType> float_dtype(const po::variables_map& v, const std::string& option) {
  if (!v.count(option)) return std::nullopt;
  const std::string name = v[option].as<std::string>();
  const auto dtype = parse_dtype(name);
  if (!dtype || !is_float(*dtype))
    throw UsageError("--" + option + " '" + name + "': expected float32, float64, float16 or bfloat16");
  return dtype;
}

// The job: the job file's, then the command line's options over it. Every parameter flag writes
// into the one parameter table, replacing what the job file set for that parameter; the method's
// declaration checks the table (prepare_target), whichever way it was filled.
MergeJob job_from(const po::variables_map& v, const MethodFlags& flags, const mpi::Comm& comm) {
  const bool from_file = v.count("config") > 0;
  MergeJob job;
  if (from_file) {
    const std::string path = v["config"].as<std::string>();
    const std::string text = read_job_file(path, comm);
    job = job::merge_job_from(job::parse_job_file(text, path));
    job.job_file_text = text;
  }
  MethodOptions& method = job.method;
  // A file's slices give each input its sources and the base its role by the file's method.
  if (!job.slices.empty())
    for (const char* option : {"method", "base", "model"})
      if (given(v, option))
        throw UsageError(std::string("--") + option + " cannot override a job file's slices (edit the file's slices instead)");
  if (!from_file || given(v, "method")) method.method = v["method"].as<std::string>();
  if (v.count("base")) job.base = v["base"].as<std::string>();
  if (v.count("model")) {  // replaces the file's models, and with them their own settings
    job.models = v["model"].as<std::vector<std::string>>();
    method.params.clear_models();
    job.side_inputs.clear();
  }
  for (const std::string& name : flags.side_inputs)
    if (v.count(name)) job.side_inputs[name] = v[name].as<std::vector<std::string>>();
  job.output = v["output"].as<std::string>();
  if (!from_file || given(v, "output-format")) job.output_format = v["output-format"].as<std::string>();
  job.shard_bytes = parse_size(v["shard-size"].as<std::string>());

  if (v.count("param"))
    for (const std::string& assignment : v["param"].as<std::vector<std::string>>()) {
      const auto eq = assignment.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError("--param '" + assignment + "': expected KEY=VALUE, e.g. --param gamma=0.02");
      const std::string name = assignment.substr(0, eq);
      erase_everywhere(method, name);
      method.params.set_global(name, ParameterSetting::scalar(job::parse_scalar(assignment.substr(eq + 1))));
    }
  for (const std::string& name : flags.parameters) {
    const std::string flag = flag_of(name);
    if (!v.count(flag)) continue;
    const auto values = v[flag].as<std::vector<std::string>>();
    erase_everywhere(method, name);
    if (values.size() == 1) {
      method.params.set_global(name, ParameterSetting::scalar(job::parse_scalar(values[0])));
      continue;
    }
    if (values.size() != job.models.size())
      throw UsageError(method.method + ": --" + flag + " is given " + std::to_string(values.size()) + " times for " +
                       std::to_string(job.models.size()) + " models: give it once (for every model) or once per model, "
                       "in model order");
    for (std::size_t m = 0; m < values.size(); ++m)
      method.params.set_model(m, name, ParameterSetting::scalar(job::parse_scalar(values[m])));
  }

  if (const auto dtype = float_dtype(v, "dtype")) {
    job.compute_in_float64 = *dtype == DType::f64;
    std::erase_if(job.notes, [](const std::string& note) { return note.rfind("dtype ", 0) == 0; });  // the file's
    if (*dtype == DType::bf16 || *dtype == DType::f16) job.notes.push_back(sixteen_bit_compute_note(*dtype));
    if (!v.count("out-dtype")) job.out_dtype = dtype;
  }
  if (const auto out = float_dtype(v, "out-dtype")) job.out_dtype = out;
  if (v.count("memory-budget")) job.memory_budget = parse_size(v["memory-budget"].as<std::string>());
  job.overwrite = v.count("overwrite") > 0;
  job.output_io = parse_output_io(v["output-io"].as<std::string>());
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
      ("config,c", po::value<std::string>()->value_name("JOB.yaml"),
       "a job file (mergekit's YAML: merge_method, base_model, models, parameters; see jobs/); the options below "
       "override it")
      ("base", po::value<std::string>()->value_name("PATH"), "the pre-trained checkpoint the models were fine-tuned from (HDF5, .safetensors or a Hugging Face directory)")
      ("model", po::value<std::vector<std::string>>()->value_name("PATH")->composing(),
       "a fine-tuned checkpoint; repeat for each model, in order")
      ("output,o", po::value<std::string>()->value_name("PATH")->required(),
       "where to write the merged checkpoint: a .h5 file, a .safetensors file, or a directory (DIR/) for a Hugging Face checkpoint")
      ("output-format", po::value<std::string>()->value_name("F")->default_value(""), "hdf5 or safetensors (default: from --output)")
      ("shard-size", po::value<std::string>()->value_name("SIZE")->default_value("5GB"),
       "Hugging Face directory output: largest shard (5GB = 5G = 5B = 5e9 bytes, 2GiB = 2^31)")
      ("method", po::value<std::string>()->value_name("NAME")->default_value("ties"), ("merge method:" + method_list()).c_str())
      ("param", po::value<std::vector<std::string>>()->value_name("KEY=VALUE")->composing(),
       "any parameter of the method, e.g. --param gamma=0.02 --param rescale=l1 (repeat; see docs/methods.md)")
      ("dtype", po::value<std::string>()->value_name("T"),
       "mergekit's compute dtype: float64 merges in float64; float32, bfloat16 and float16 merge in float32 "
       "(see docs/methods.md); also the default --out-dtype")
      ("out-dtype", po::value<std::string>()->value_name("T"), "dtype of merged tensors: float32, float64, float16, bfloat16 (default: the base's)")
      ("memory-budget", po::value<std::string>()->value_name("SIZE"),
       "memory per rank for tensor slices, e.g. 4G (default: 70% of the node's memory shared by its ranks); "
       "a merge that does not fit streams its inputs in groups")
      ("overwrite", "replace an existing output")
      ("output-io", po::value<std::string>()->value_name("MODE")->default_value("auto"), kOutputIoHelp)
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
  po::options_description method_options("Method parameters (the methods that take each in brackets; see docs/methods.md)");
  const MethodFlags flags = add_method_flags(method_options);
  options.add(method_options);
  po::variables_map values;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge merge --base BASE --model A --model B ... --output OUT [options]\n"
                     "       mpirun -n RANKS mpimerge merge --config JOB.yaml --output OUT [options]",
                     options, args, values, comm))
    return 0;
  MergeJob job = job_from(values, flags, comm);
  job.command_line = command_line(args);
  if (values.count("config")) job.job_file = values["config"].as<std::string>();
  const Log log(comm.is_root(), job.quiet, std::cout);
  run_merge(job, comm, log);
  return 0;
}

}  // namespace mpimerge::cli
