// The liveness watch (mpi/liveness.hpp) takes no rank for lost whose main thread is busy for longer
// than the timeout, nor one that left first; a lost rank ends the process, which fails the test
// (tests/cli/peer_loss.sh checks what a real loss does). And MPIMERGE_PEER_TIMEOUT's values.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/liveness.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using namespace std::chrono_literals;
using testing::world;

// Keeps this thread on the CPU (not asleep) for `how_long`, as a rank in a long SVD would.
void compute_for(std::chrono::milliseconds how_long) {
  const auto end = std::chrono::steady_clock::now() + how_long;
  volatile std::uint64_t sink = 0;
  while (std::chrono::steady_clock::now() < end) sink = sink + 1;
}

TEST(LivenessWatch, BusyRanksAndRanksThatLeftAreNotLost) {
  const auto& comm = world();
  if (comm.size() == 1) GTEST_SKIP() << "one rank: no peers to watch";
  {
    mpi::LivenessWatch watch(comm, 1500ms);
    // The last rank computes for over 2 timeouts while the others wait for it in a collective, then
    // rank 0 does while the others wait: the watchers beat on regardless.
    if (comm.rank() == comm.size() - 1) compute_for(3200ms);
    comm.barrier();
    if (comm.rank() == 0) compute_for(3200ms);
    comm.barrier();
    // The other ranks leave first, each saying goodbye: rank 0 takes none of them for lost (which
    // would end this process) while it goes on.
    if (comm.rank() == 0) compute_for(500ms);
  }
  comm.barrier();
  {
    mpi::LivenessWatch watch(comm, 1500ms);
    comm.barrier();
    // Rank 0 leaves first: the others take it for gone, not lost.
    if (comm.rank() != 0) compute_for(500ms);
  }
  comm.barrier();
}

TEST(LivenessWatch, NoWatchWithAZeroTimeout) {
  const auto& comm = world();
  mpi::LivenessWatch watch(comm, 0ms);
  comm.barrier();
  SUCCEED();
}

TEST(PeerTimeout, FromTheEnvironment) {
  ::unsetenv("MPIMERGE_PEER_TIMEOUT");
  EXPECT_EQ(mpi::peer_timeout_from_environment(), std::chrono::milliseconds(60000));
  const std::pair<const char*, long long> good[] = {{"10", 10000}, {"0", 0}, {"2.5", 2500}, {"86400", 86400000}};
  for (const auto& [text, ms] : good) {
    ::setenv("MPIMERGE_PEER_TIMEOUT", text, 1);
    EXPECT_EQ(mpi::peer_timeout_from_environment().count(), ms) << text;
  }
  for (const char* text : {"", "abc", "10s", "0.5", "-1", "86401", "nan", "inf"}) {
    ::setenv("MPIMERGE_PEER_TIMEOUT", text, 1);
    EXPECT_THROW(mpi::peer_timeout_from_environment(), UsageError) << text;
  }
  ::unsetenv("MPIMERGE_PEER_TIMEOUT");
}

}  // namespace
}  // namespace mpimerge
