#pragma once
// --resume: where an interrupted merge of the same job stopped, from its journal and partial
// output. Tensors the journal lists are checked against the partial output (a crash may have
// come before the file system kept them) and redone if they do not match.
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/job/job.hpp"
#include "mpimerge/presentation/log.hpp"
#include "mpimerge/pipeline/plan.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

struct ResumePoint {
  std::vector<bool> finished;                            // per plan tensor
  std::vector<std::optional<std::uint64_t>> checksums;   // of the finished ones
  std::optional<std::string> method_state;
  std::size_t count = 0;                                 // finished tensors
};

// What identifies a merge's output for resuming: the method and its parameters, the inputs (paths,
// sizes, modification times), the output's layout and the planned tensors. Collective (rank 0's).
std::string merge_fingerprint(const MergeJob& job, const storage::OutputSpec& output, const InputSet& inputs,
                              const MergePlan& plan, const mpi::Comm& comm);

// Collective. nullopt when there is nothing to resume (no journal or no partial output; a new
// merge starts). Throws UsageError when the journal belongs to another merge.
std::optional<ResumePoint> find_resume_point(const MergeJob& job, const std::string& fingerprint,
                                             const MergePlan& plan, const mpi::Comm& comm, const Log& log);

}  // namespace mpimerge
