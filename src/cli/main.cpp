// mpimerge: merges fine-tuned checkpoints with MPI. Run every subcommand under mpirun/srun.
#include <chrono>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/liveness.hpp"

int main(int argc, char** argv) {
  mpimerge::mpi::Environment mpi(argc, argv);
  const auto comm = mpimerge::mpi::Comm::world();
  // Every rank watches the others' liveness until it returns from main (mpi/liveness.hpp): a rank
  // or node lost mid-run ends the job within MPIMERGE_PEER_TIMEOUT instead of hanging it. Set up
  // through a communicator of its own, so that the reports' traffic counts the merge's alone.
  std::optional<mpimerge::mpi::LivenessWatch> watch;
  try {
    const auto watch_comm = mpimerge::mpi::Comm::world();
    std::chrono::milliseconds timeout{};
    mpimerge::mpi::run_agreed(watch_comm, [&] {
      if (watch_comm.is_root()) timeout = mpimerge::mpi::peer_timeout_from_environment();
    });
    watch.emplace(watch_comm, timeout);
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
