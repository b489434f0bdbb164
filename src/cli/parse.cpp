#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

std::string command_line(const Args& args) {
  std::string text = "mpimerge merge";
  for (const auto& a : args) text += " " + (a.find_first_of(" \t'\"") == std::string::npos ? a : "'" + a + "'");
  return text;
}

bool parse_or_help(const std::string& usage, const po::options_description& options, const Args& args,
                   po::variables_map& values, const mpi::Comm& comm,
                   const po::positional_options_description* positional) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  try {
    po::command_line_parser parser(args);
    parser.options(all);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), values);
    if (values.count("help")) {
      if (comm.is_root()) std::cout << usage << "\n\n" << all << std::flush;
      return false;
    }
    po::notify(values);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return true;
}

}  // namespace mpimerge::cli
