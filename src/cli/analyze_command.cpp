#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "mpimerge/commands/analyze.hpp"
#include "mpimerge/presentation/progress.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/methods/parameters.hpp"
#include "mpimerge/util/memory.hpp"
#include "mpimerge/util/size.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;
namespace {

// "0.05,0.1,20": numbers separated by commas; shares above 1 are percentages when `percent`.
std::vector<double> parse_levels(const std::string& text, const std::string& option, bool percent) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t", used) != std::string::npos)
      throw UsageError("--" + option + ": '" + item + "' is not a number");
    if (percent) {
      // As a merge's density: a fraction, or a percentage as the TIES paper's code takes it.
      const NumberRange density{.min = 0, .max = 1, .min_open = true, .percent = true};
      const auto fraction = density.read(value);
      if (!fraction) throw UsageError("--" + option + ": density " + item + " is out of range: give " + density.describe());
      value = *fraction;
    }
    out.push_back(value);
  }
  return out;
}

}  // namespace

int analyze_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("base", po::value<std::string>()->value_name("PATH")->required(), "the pre-trained checkpoint")
      ("model", po::value<std::vector<std::string>>()->value_name("PATH")->composing()->required(),
       "a fine-tuned checkpoint; repeat for each model, in order (task 0, 1, ...)")
      ("densities", po::value<std::string>()->value_name("LIST")->default_value("0.05,0.1,0.2"),
       "trim densities for the sign-conflict counts (fractions, or percentages above 1)")
      ("mass-tops", po::value<std::string>()->value_name("LIST")->default_value("0.01,0.05,0.1,0.2,0.5"),
       "top shares of |tau| whose share of the L2 mass is measured")
      ("quantiles", po::value<std::string>()->value_name("LIST")->default_value("0.5,0.9,0.99,0.999"),
       "quantiles of |tau| per task, in (0, 1]")
      ("output-prefix", po::value<std::string>()->value_name("PREFIX"), "write PREFIX.json and PREFIX.csv")
      ("json", po::value<std::string>()->value_name("PATH"), "write the JSON here (for python/plot_analysis.py)")
      ("csv", po::value<std::string>()->value_name("PATH"), "write the CSV here: statistic,task,tensor,level,value")
      ("overwrite", "replace existing outputs")
      ("memory-budget", po::value<std::string>()->value_name("SIZE"), "memory per rank, e.g. 4GiB (default: a share of the node's)")
      ("progress", po::value<std::string>()->value_name("STYLE")->default_value("auto"), "bar, lines, none or auto")
      ("quiet,q", "print nothing but errors");
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge analyze --base BASE --model M1 --model M2 ... --output-prefix OUT\n\n"
                     "The statistics behind TIES-Merging, for the task vectors tau = model - base: per task the\n"
                     "quantiles of |tau| and the share of its L2 mass in its largest entries, and per trim density\n"
                     "the share of parameters whose kept entries disagree in sign, overall and per tensor.\n"
                     "The same at any rank count. Plot the JSON with python/plot_analysis.py.",
                     options, args, v, comm))
    return 0;
  AnalysisJob job;
  job.base = v["base"].as<std::string>();
  job.models = v["model"].as<std::vector<std::string>>();
  job.options.densities = parse_levels(v["densities"].as<std::string>(), "densities", true);
  job.options.mass_tops = parse_levels(v["mass-tops"].as<std::string>(), "mass-tops", true);
  job.options.quantiles = parse_levels(v["quantiles"].as<std::string>(), "quantiles", false);
  analysis::check_options(job.options);
  if (v.count("output-prefix")) {
    job.json_path = v["output-prefix"].as<std::string>() + ".json";
    job.csv_path = v["output-prefix"].as<std::string>() + ".csv";
  }
  if (v.count("json")) job.json_path = v["json"].as<std::string>();
  if (v.count("csv")) job.csv_path = v["csv"].as<std::string>();
  job.overwrite = v.count("overwrite") > 0;
  if (v.count("memory-budget")) job.memory_budget = parse_size(v["memory-budget"].as<std::string>());
  job.quiet = v.count("quiet") > 0;
  job.progress = v["progress"].as<std::string>();
  Progress::style_for(true, false, job.progress);  // refuses an unknown style here, on every rank
  job.command_line = "mpimerge analyze";
  for (const auto& a : args) job.command_line += " " + a;
  const Log log(comm.is_root(), job.quiet, std::cout);
  run_analysis(job, comm, log);
  return 0;
}

}  // namespace mpimerge::cli
