#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/commands/sweep.hpp"
#include "mpimerge/util/memory.hpp"
#include "mpimerge/util/size.hpp"
#include "mpimerge/util/text_file.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

int sweep_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("config", po::value<std::string>()->value_name("YAML")->required(), "the grid file (see jobs/sweep.yaml)")
      ("point", po::value<std::size_t>()->value_name("N"), "run only grid point N (e.g. $SLURM_ARRAY_TASK_ID)")
      ("list", "print the grid points (number, name, output) and exit")
      ("memory-budget", po::value<std::string>()->value_name("SIZE"), "memory per rank (overrides the file)")
      ("overwrite", "replace existing outputs")
      ("output-io", po::value<std::string>()->value_name("MODE")->default_value("auto"), kOutputIoHelp)
      ("allow-nonfinite", "merge inputs that hold NaN or infinity (refused by default)")
      ("progress", po::value<std::string>()->value_name("STYLE")->default_value("auto"), "bar, lines, none or auto")
      ("quiet,q", "print nothing but errors");
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge sweep --config GRID.yaml [--point N | --list]\n\n"
                     "Merges every point of a grid over one set of inputs, reading them once for all points.",
                     options, args, v, comm))
    return 0;
  // Rank 0 reads the file and every rank parses the same text: a file edited while the ranks start
  // cannot give them different grids.
  const std::string path = v["config"].as<std::string>();
  std::string text;
  mpi::run_agreed(comm, [&] {
    if (comm.is_root()) text = read_text_file(path, "sweep file");
  });
  comm.broadcast(text);
  const Sweep sweep = parse_sweep_file(text, path);
  if (v.count("list")) {
    if (comm.is_root())
      for (std::size_t i = 0; i < sweep.points.size(); ++i)
        std::cout << i << ' ' << sweep.points[i].name << ' ' << sweep.points[i].job.output << '\n';
    return 0;
  }
  SweepOptions o;
  if (v.count("point")) o.point = v["point"].as<std::size_t>();
  if (v.count("memory-budget")) o.memory_budget = parse_size(v["memory-budget"].as<std::string>());
  o.overwrite = v.count("overwrite") > 0;
  o.output_io = parse_output_io(v["output-io"].as<std::string>());
  o.allow_nonfinite = v.count("allow-nonfinite") > 0;
  o.quiet = v.count("quiet") > 0;
  o.progress = v["progress"].as<std::string>();
  o.command_line = "mpimerge sweep";
  for (const auto& a : args) o.command_line += " " + a;
  const Log log(comm.is_root(), o.quiet, std::cout);
  run_sweep(sweep, o, comm, log);
  return 0;
}

}  // namespace mpimerge::cli
