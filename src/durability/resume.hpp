#pragma once
// --resume: where an interrupted merge of the same job stopped, from its journal and partial
// output. Tensors the journal lists are checked against the partial output (a crash may have
// come before the file system kept them) and redone if they do not match.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "durability/input_pins.hpp"
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

// What identifies a merge's output for resuming: the method and its parameters, the identity of
// every file the inputs read (inode, size, mtime and ctime in ns, as pinned when opened), the
// output's layout and the planned tensors. Collective (rank 0's).
std::string merge_fingerprint(const MergeJob& job, const storage::OutputSpec& output, const InputPins& pins,
                              const MergePlan& plan, const mpi::Comm& comm);
// The inputs' identities as the journal records them beside the fingerprint, so that a refused
// --resume can say which input changed.
nlohmann::ordered_json resume_inputs(const InputPins& pins);

// Collective. nullopt when there is nothing to resume (no journal or no partial output; a new
// merge starts). Throws UsageError when the journal belongs to another merge, naming the input
// that changed since the interrupted run when that is why. Tensors the journal lists are reused
// only where the partial output holds them with the checksum the journal recorded.
std::optional<ResumePoint> find_resume_point(const MergeJob& job, const std::string& fingerprint,
                                             const InputPins& pins, const MergePlan& plan, const mpi::Comm& comm,
                                             const Log& log);

}  // namespace mpimerge
