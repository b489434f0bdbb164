#pragma once
// A run's claim on its output, taken before the first byte is written and held to the end:
// the missing directories of the output and the report made (and removed again at the end when
// the run leaves nothing in them), the output's lock held, and what is at the output's paths
// checked once more under the lock. A partial output left by an interrupted run is continued only
// with --resume, discarded only with --overwrite (when its journal proves this program wrote it),
// and never written over otherwise.
#include <memory>
#include <string>
#include <vector>

#include "durability/output_lock.hpp"
#include "mpimerge/job/job.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

class OutputClaim {
 public:
  // Collective; every error agreed on (UsageError: a held lock, a path that is not ours).
  OutputClaim(const MergeJob& job, const mpi::Comm& comm);
  ~OutputClaim() = default;
  OutputClaim(const OutputClaim&) = delete;
  OutputClaim& operator=(const OutputClaim&) = delete;

  // Rank 0: false when the output's file system has no locks (the run is then unprotected).
  bool locked() const { return !lock_ || lock_->held(); }

 private:
  // Directories this run made, outermost first; removed, innermost first, if empty at the end.
  struct MadeDirectories {
    std::vector<std::string> paths;
    ~MadeDirectories();
    void make_parents_of(const std::string& path);
  };
  MadeDirectories made_;              // destroyed last: after the lock file is gone
  std::unique_ptr<OutputLock> lock_;  // rank 0
};

}  // namespace mpimerge
