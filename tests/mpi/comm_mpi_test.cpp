// Error agreement: every rank ends with the same error, from the lowest rank that failed.
#include <gtest/gtest.h>

#include "mpimerge/error.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::world;

TEST(Agreement, NoErrorMeansNoThrow) {
  EXPECT_NO_THROW(mpi::run_agreed(world(), [] {}));
}

TEST(Agreement, OneFailingRankEndsEveryRankWithItsMessage) {
  const auto& comm = world();
  const int last = comm.size() - 1;
  try {
    mpi::run_agreed(comm, [&] {
      if (comm.rank() == last) throw InputError("bad tensor on rank " + std::to_string(last));
    });
    FAIL() << "every rank must throw";
  } catch (const AgreedError& e) {
    EXPECT_EQ(std::string(e.what()), "bad tensor on rank " + std::to_string(last));
    EXPECT_EQ(e.origin_rank(), last);
    EXPECT_EQ(e.code(), ExitCode::failure);
  }
}

TEST(Agreement, LowestFailingRankWinsAndUsageCodeTravels) {
  const auto& comm = world();
  try {
    mpi::run_agreed(comm, [&] {
      if (comm.rank() >= comm.size() / 2) throw UsageError("rank " + std::to_string(comm.rank()));
      if (comm.size() == 1) throw UsageError("rank 0");
    });
    FAIL();
  } catch (const AgreedError& e) {
    EXPECT_EQ(std::string(e.what()), "rank " + std::to_string(comm.size() / 2));
    EXPECT_EQ(e.code(), ExitCode::usage);
  }
}

TEST(Agreement, ForeignExceptionsToo) {
  try {
    mpi::run_agreed(world(), [&] { throw std::bad_alloc(); });
    FAIL();
  } catch (const AgreedError& e) {
    EXPECT_EQ(std::string(e.what()), "out of memory");
  }
}

// Communicators return MPI's errors instead of ending the job inside the call, so check() turns
// them into exceptions naming the call (here a broadcast from a rank that does not exist, which
// every rank sees alike).
TEST(MpiErrors, AreExceptionsNamingTheCall) {
  std::string text = "x";
  try {
    world().broadcast(text, world().size());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Bcast failed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mpimerge
