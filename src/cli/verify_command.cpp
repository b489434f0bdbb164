#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/commands/verify.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

int verify_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("checkpoint", po::value<std::string>()->value_name("PATH")->required(), "the merged checkpoint to check")
      ("report", po::value<std::string>()->value_name("PATH")->default_value(""),
       "the merge's report, when the file records no checksums itself (default: PATH.report.json)");
  po::positional_options_description positional;
  positional.add("checkpoint", 1);
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge verify CHECKPOINT [--report REPORT]\n\n"
                     "Recomputes every tensor's checksum and compares it with the one recorded when it was merged.\n"
                     "Exit code 0 when all match, 1 otherwise.",
                     options, args, v, comm, &positional))
    return 0;
  const VerifyReport report = verify_checkpoint(v["checkpoint"].as<std::string>(), v["report"].as<std::string>(), comm);
  if (comm.is_root()) std::cout << format_verify(report) << std::flush;
  return report.ok() ? 0 : 1;
}

}  // namespace mpimerge::cli
