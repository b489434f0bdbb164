#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/commands/diff.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

int diff_command(const Args& args, const mpi::Comm& comm) {
  po::options_description options("Options");
  options.add_options()
      ("a", po::value<std::string>()->value_name("A")->required(), "the checkpoint to check")
      ("b", po::value<std::string>()->value_name("B")->required(), "the reference it is compared with")
      ("tolerance", po::value<double>()->value_name("T")->default_value(0.0, "0"),
       "largest max |a - b| accepted; above it (or if names or shapes differ) the exit code is 1")
      ("summary", "print only differences in names and shapes and the summary line");
  po::positional_options_description positional;
  positional.add("a", 1).add("b", 1);
  po::variables_map v;
  if (!parse_or_help("usage: mpirun -n RANKS mpimerge diff A B [--tolerance T]\n\n"
                     "Compares two checkpoints tensor by tensor: max |a-b|, relative L2 ||a-b||/||b||, cosine.",
                     options, args, v, comm, &positional))
    return 0;
  const double tolerance = v["tolerance"].as<double>();
  if (!(tolerance >= 0) || std::isinf(tolerance)) throw UsageError("--tolerance must be a finite number >= 0");
  const DiffReport report = diff_checkpoints(v["a"].as<std::string>(), v["b"].as<std::string>(), comm);
  if (comm.is_root()) std::cout << format_diff(report, tolerance, v.count("summary") == 0) << std::flush;
  return report.within(tolerance) ? 0 : 1;
}

}  // namespace mpimerge::cli
