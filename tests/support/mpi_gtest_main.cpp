// GoogleTest under mpirun: every rank runs every test; rank 0 prints the usual progress, other
// ranks print only their failures, and any rank's failure fails every rank's exit code.
#include <gtest/gtest.h>

#include <cstdio>

#include "mpimerge/mpi/comm.hpp"

namespace {

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
                 result.line_number(), result.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  mpimerge::mpi::Environment mpi(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  const auto comm = mpimerge::mpi::Comm::world();
  if (comm.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(comm.rank()));
  }
  const int failed = RUN_ALL_TESTS();
  return comm.all(failed == 0) ? 0 : 1;
}
