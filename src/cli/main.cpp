// mpimerge: merges fine-tuned checkpoints with MPI. Run every subcommand under mpirun/srun.
#include <array>
#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/version.hpp"

namespace {

using mpimerge::cli::Command;

constexpr std::array kCommands{
    Command{"merge", "merge fine-tuned checkpoints into one", mpimerge::cli::merge_command},
    Command{"convert", "convert a checkpoint between HDF5 and safetensors / Hugging Face", mpimerge::cli::convert_command},
    Command{"inspect", "list checkpoints' tensors and whether they can be merged", mpimerge::cli::inspect_command},
    Command{"diff", "compare two checkpoints tensor by tensor", mpimerge::cli::diff_command},
    Command{"verify", "recompute a merged checkpoint's checksums and compare", mpimerge::cli::verify_command},
    Command{"sweep", "merge a grid of methods and parameters, reading the inputs once", mpimerge::cli::sweep_command},
    Command{"analyze", "statistics of the task vectors: magnitudes, L2 mass, sign conflicts", mpimerge::cli::analyze_command},
    Command{"generate", "write synthetic Llama-style checkpoints for demos and benchmarks", mpimerge::cli::generate_command},
};

void print_usage(std::ostream& out) {
  out << "usage: mpirun -n RANKS mpimerge COMMAND [options]   (COMMAND --help for its options)\n\ncommands:\n";
  for (const auto& c : kCommands) out << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << '\n';
  out << "\nmpimerge " << mpimerge::kVersion << ": distributed, exact merging of fine-tuned model checkpoints\n";
}

int dispatch(int argc, char** argv, const mpimerge::mpi::Comm& comm) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    if (comm.is_root()) print_usage(std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    if (comm.is_root()) std::cout << "mpimerge " << mpimerge::kVersion << '\n';
    return 0;
  }
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.run(mpimerge::cli::Args(argv + 2, argv + argc), comm);
  throw mpimerge::UsageError(std::string("unknown command '") + argv[1] + "' (see mpimerge --help)");
}

}  // namespace

int main(int argc, char** argv) {
  mpimerge::mpi::Environment mpi(argc, argv);
  const auto comm = mpimerge::mpi::Comm::world();
  try {
    return dispatch(argc, argv, comm);
  } catch (const mpimerge::AgreedError& e) {
    // Every rank holds the same error; one prints it.
    if (comm.is_root()) std::cerr << "mpimerge: error: " << e.what() << std::endl;
    return static_cast<int>(e.code());
  } catch (const mpimerge::UsageError& e) {
    // Thrown outside the engine only by argument checks, which every rank makes alike.
    if (comm.is_root()) std::cerr << "mpimerge: error: " << e.what() << std::endl;
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    comm.abort(e.what());  // one rank alone: the others may be waiting for it
  }
}
