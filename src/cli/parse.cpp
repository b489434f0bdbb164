#include <iostream>
#include <typeinfo>

#include "cli/commands.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge::cli {
namespace po = boost::program_options;

std::string command_line(const Args& args) {
  std::string text = "mpimerge merge";
  for (const auto& a : args) text += " " + (a.find_first_of(" \t'\"") == std::string::npos ? a : "'" + a + "'");
  return text;
}

OutputIo parse_output_io(const std::string& mode) {
  if (mode == "auto") return OutputIo::automatic;
  if (mode == "mpiio") return OutputIo::mpiio;
  if (mode == "direct") return OutputIo::direct;
  throw UsageError("--output-io " + mode + ": expected mpiio or direct, or auto (the default)");
}

namespace {

// Boost converts "-1" to an unsigned option by wrapping it (to 2^64 - 1 for a uint64 seed):
// refuse a negative number given to an unsigned option instead.
void refuse_negative_unsigned(const po::parsed_options& parsed, const po::variables_map& values) {
  for (const po::option& o : parsed.options) {
    const auto at = values.find(o.string_key);
    if (at == values.end() || at->second.empty()) continue;
    const std::type_info& type = at->second.value().type();
    if (type != typeid(unsigned) && type != typeid(unsigned long) && type != typeid(unsigned long long)) continue;
    for (const std::string& text : o.value)
      if (text.find('-') != std::string::npos)
        throw UsageError("--" + o.string_key + " " + text + ": expected a non-negative integer");
  }
}

}  // namespace

bool parse_or_help(const std::string& usage, const po::options_description& options, const Args& args,
                   po::variables_map& values, const mpi::Comm& comm,
                   const po::positional_options_description* positional) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  try {
    po::command_line_parser parser(args);
    parser.options(all);
    if (positional) parser.positional(*positional);
    const po::parsed_options parsed = parser.run();
    po::store(parsed, values);
    refuse_negative_unsigned(parsed, values);
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
