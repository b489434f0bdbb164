#pragma once
// A merge session: one plan over one set of inputs, and one or more targets (a method and an
// output each: one for `merge`, a grid of them for `sweep`). The session loads the inputs group
// by group and hands every loaded block to every target that needs it, so that however many
// targets there are, each pass reads the inputs once: the analysis passes of all targets share
// reads, and one final pass merges and writes every target's output.
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pipeline/group_slices.hpp"
#include "durability/output_claim.hpp"
#include "durability/pending_output.hpp"
#include "pipeline/phases.hpp"
#include "mpimerge/job/job.hpp"
#include "mpimerge/pipeline/summary.hpp"
#include "mpimerge/presentation/progress.hpp"
#include "pipeline/work_plan.hpp"
#include "mpimerge/methods/method_spec.hpp"
#include "pipeline/inputs.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/byte_arena.hpp"

namespace mpimerge {

struct MergeTarget {
  MergeJob job;
  storage::OutputSpec output;
  std::string output_io_reason;  // why the output is written as it is (--output-io, or its file system)
  MethodArgs method_args;  // the method's declaration and the job's parameters, validated
  SideInputPaths side_inputs;
  std::unique_ptr<MergeMethod> method;
  std::unique_ptr<OutputClaim> claim;      // first: held until everything below is gone
  std::unique_ptr<PendingOutput> pending;  // before the writer: removed after it closes
  std::unique_ptr<storage::CheckpointWriter> writer;
  std::vector<std::uint64_t> checksums;  // per plan tensor: this rank's partial sums, then the result
  // Per plan tensor: merged values that are not finite in the output dtype, and of those the ones
  // already not finite as computed (the method's arithmetic overflowed, not the conversion).
  std::vector<std::uint64_t> nonfinite, nonfinite_computed;
  // Resuming: checksums of the tensors an interrupted run finished (not written again).
  std::vector<std::optional<std::uint64_t>> finished;
  std::string journal;  // the resume journal to record finished tensors in ("" = none)
  std::uint64_t journaled = 0;  // tensors finished, counting those of an interrupted run
  int analysis_passes = 0;
  double seconds = 0;  // on this rank: this target's analysis, merge and write
};

class MergeSession {
 public:
  MergeSession(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs, const mpi::Comm& comm,
               Progress& progress);

  // Runs every target's analysis passes; each pass over the data serves every target that needs one.
  void analyze(std::span<MergeTarget* const> targets);
  // One more pass: every target merges and writes each group; then checksums, finish_merge, and
  // the writers' finish (all collective).
  void merge_and_write(std::span<MergeTarget* const> targets);

  // From now on, pass over these groups instead (a resumed merge: only the unfinished tensors).
  void switch_work(const WorkPlan& work);

  std::vector<PhaseTiming> timings() const { return phases_.combined(); }
  // The most times any input byte was read (per group, its loads; a resumed merge adds its passes).
  int data_reads() const;
  // Runs of whole tensors the analysis went through one after another (pipeline/analysis_runs.hpp):
  // 1 when every tensor was analysed at once; 0 when none was analysed here (no method needed a
  // pass, or a resumed merge restored the analysis from its journal).
  std::size_t analysis_runs() const { return analysis_runs_; }
  // Collective: per input, per plan tensor, the content checksum of what was read.
  std::vector<std::vector<std::uint64_t>> input_checksums() const;
  // Merge NaN and infinity in the inputs instead of refusing them (--allow-nonfinite).
  void allow_nonfinite(bool allow) { allow_nonfinite_ = allow; }

 private:
  void load(std::size_t group, GroupRange pass);
  // Every analysis pass of the targets over these groups; the analysis passes of each target.
  std::vector<int> analyze_groups(std::span<MergeTarget* const> targets, GroupRange groups, std::uint64_t sample_memory);
  void sample_pass(std::span<MergeTarget* const> targets, GroupRange groups, std::uint64_t sample_memory);
  void full_pass(std::span<MergeTarget* const> targets, GroupRange groups);
  void finish_pass(MergeTarget& target, Reductions& reductions);
  std::vector<std::span<std::uint8_t>> merge_group(MergeTarget& target);
  void write_group(MergeTarget& target, const std::vector<std::span<std::uint8_t>>& out);
  // Collective: reads the side matrices (RegMean's Grams) of the tensors that start in this group
  // and hands them to the target's method, before any of their blocks.
  void give_side_data(MergeTarget& target, std::size_t group);
  // Collective, once a target's every tensor is merged: sums its non-finite counts over the ranks
  // and throws InputError (on every rank alike) for the first tensor that has any.
  void refuse_nonfinite(MergeTarget& target);
  // After groups first..last are written: makes the tensors they completed durable and journals them.
  void journal_completed(MergeTarget& target, std::size_t first_group, std::size_t last_group);
  static constexpr std::uint64_t kJournalPoints = 4;
  static constexpr std::chrono::seconds kJournalInterval{60};
  // A group's input or output bytes in the largest share of each unit (progress, journal cadence).
  std::uint64_t most_bytes(std::size_t group, bool inputs) const;
  void read_ahead(std::size_t group, GroupRange pass);

  const MergePlan& plan_;
  const WorkPlan* work_;
  const InputSet& inputs_;
  const mpi::Comm& comm_;
  Progress& progress_;
  std::unique_ptr<GroupSlices> slices_;
  ByteArena output_arena_;
  std::uint64_t output_bytes_ = 0;  // the arena's size, taken by merge_and_write
  PhaseClock phases_;
  std::vector<bool> checked_;
  std::vector<std::vector<std::uint64_t>> input_checksums_;  // [input][tensor], this rank's partials
  std::vector<std::size_t> last_group_;  // per plan tensor: the group that holds its last unit
  std::vector<int> loads_;  // per group of the work plan: times it was read
  int earlier_reads_ = 0;   // of the work plans before switch_work
  std::size_t analysis_runs_ = 0;
  std::uint64_t load_count_ = 0;    // loads so far: the place of the next in the sequence of loads
  std::uint64_t hinted_until_ = 0;  // loads before this place in the sequence of loads are hinted
  bool allow_nonfinite_ = false;
};

}  // namespace mpimerge
