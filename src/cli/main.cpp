// mpimerge: merges fine-tuned checkpoints with MPI. Run every subcommand under mpirun/srun.
#include <iostream>

#include "cli/commands.hpp"
#include "mpimerge/error.hpp"

int main(int argc, char** argv) {
  mpimerge::mpi::Environment mpi(argc, argv);
  const auto comm = mpimerge::mpi::Comm::world();
  try {
    return mpimerge::cli::dispatch(mpimerge::cli::Args(argv + 1, argv + argc), comm);
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
