// The subcommands by name: what `mpimerge COMMAND ...` runs.
#include <array>
#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/version.hpp"

namespace mpimerge::cli {
namespace {

constexpr std::array kCommands{
    Command{"merge", "merge fine-tuned checkpoints into one", merge_command},
    Command{"convert", "convert a checkpoint between HDF5 and safetensors / Hugging Face", convert_command},
    Command{"inspect", "list checkpoints' tensors and whether they can be merged", inspect_command},
    Command{"diff", "compare two checkpoints tensor by tensor", diff_command},
    Command{"verify", "recompute a merged checkpoint's checksums and compare", verify_command},
    Command{"sweep", "merge a grid of methods and parameters, reading the inputs once", sweep_command},
    Command{"analyze", "statistics of the task vectors: magnitudes, L2 mass, sign conflicts", analyze_command},
    Command{"generate", "write synthetic Llama-style checkpoints for demos and benchmarks", generate_command},
};

void print_usage(std::ostream& out) {
  out << "usage: mpirun -n RANKS mpimerge COMMAND [options]   (COMMAND --help for its options)\n\ncommands:\n";
  for (const auto& c : kCommands) out << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << '\n';
  out << "\nmpimerge " << kVersion << ": distributed, exact merging of fine-tuned model checkpoints\n";
}

}  // namespace

int dispatch(const Args& args, const mpi::Comm& comm) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    if (comm.is_root()) print_usage(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    if (comm.is_root()) std::cout << "mpimerge " << kVersion << '\n';
    return 0;
  }
  for (const auto& c : kCommands)
    if (args[0] == c.name) return c.run(Args(args.begin() + 1, args.end()), comm);
  throw UsageError("unknown command '" + args[0] + "' (see mpimerge --help)");
}

}  // namespace mpimerge::cli
