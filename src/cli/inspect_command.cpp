#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/commands/inspect.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

int inspect_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("path", po::value<std::vector<std::string>>()->value_name("PATH")->composing(),
       "a checkpoint: an HDF5 file, a .safetensors file or a Hugging Face directory (repeatable)")
      ("totals", "print only each checkpoint's totals, not every tensor");
  po::positional_options_description positional;
  positional.add("path", -1);
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge inspect PATH... [options]\n\n"
                     "Lists each checkpoint's tensors (dtype, shape, bytes) and totals; with several, says whether\n"
                     "they can be merged and lists every difference (exit code 1 when they cannot).",
                     options, args, v, comm, &positional))
    return 0;
  if (!v.count("path")) throw UsageError("no checkpoint given (mpimerge inspect PATH...)");
  const InspectReport report = inspect_checkpoints(v["path"].as<std::vector<std::string>>(), comm);
  if (comm.is_root()) std::cout << format_inspect(report, v.count("totals") == 0) << std::flush;
  return report.mergeable() ? 0 : 1;
}

}  // namespace mpimerge::cli
