#pragma once
// The steps that `merge` and `sweep` share: preparing a target, opening its output, and turning
// a finished session into a summary, log lines and a report.
#include <chrono>

#include <nlohmann/json.hpp>

#include "pipeline/inputs.hpp"
#include "pipeline/session.hpp"
#include "mpimerge/job/job.hpp"
#include "mpimerge/pipeline/summary.hpp"
#include "mpimerge/presentation/log.hpp"

namespace mpimerge {

// The method, the output format and the path checks of one job, agreed on by every rank; then the
// claim on its output (durability/output_claim.hpp): nothing is written before it.
MergeTarget prepare_target(const MergeJob& job, const mpi::Comm& comm);

// Every rank builds its plan from what it read itself: a rank that saw other files (a node with
// another copy, a file replaced between opens) would make other collective calls and hang or mix
// outputs. This cheap check (a hash of the plan, its minimum and maximum over the ranks), made
// before any data moves, turns that into one agreed error.
void check_same_plan(const MergePlan& plan, const mpi::Comm& comm);

// Plans the merge of the inputs for these targets (all see the same plan) and cuts it into groups
// within the budget, less the methods' share (methods_share()), split evenly between the targets.
// Starts the methods.
struct PlannedMerge {
  MergePlan plan;
  WorkPlan work;
  std::uint64_t budget = 0;
  std::uint64_t slice_budget = 0;  // what the methods' share leaves of the budget for slices
  std::string budget_source;  // where the budget came from, for the report
  std::vector<NodeShare> nodes;  // the ranks of each node and the budget its own share gave
  std::uint64_t group_bytes = 0;   // the size of group wanted (pipeline/working_set.hpp), the budget the cap
  std::string working_set_reason;  // why that size, for the log and the report
  // Per plan tensor: what merging it whole needs, where some target's method does (work_plan.hpp).
  std::vector<std::optional<WholeTensorNeed>> whole;
};
// The methods' share of a budget: an eighth, or what they want (MergeMethod::memory_wanted) up to
// a quarter, as long as the slices keep room for the largest row.
std::uint64_t methods_share(std::uint64_t budget, std::uint64_t wanted, std::uint64_t largest_row_bytes);

PlannedMerge plan_targets(const OpenInputs& inputs, std::span<MergeTarget* const> targets,
                          std::optional<std::uint64_t> requested_budget, std::optional<DType> out_dtype,
                          const mpi::Comm& comm, bool compute_in_float64 = false);

// Starts the target's journal (with this fingerprint and inputs; "" for a run that cannot be
// resumed) unless it reopens an interrupted run's output, then creates the output under its
// temporary name, saying so when the file system refused the direct writes asked for. Collective.
void open_output(MergeTarget& target, const MergePlan& plan, const mpi::Comm& comm, const Log& log,
                 const std::string& fingerprint = "", const nlohmann::ordered_json& inputs = nlohmann::ordered_json::array());

// Collective: the inputs' checksums over everything the session read.
std::vector<MergeSummary::InputChecksum> input_checksums(const MergeSession& session, const PlannedMerge& planned,
                                                         const OpenInputs& inputs);

// Collective: the summary of one target of a finished session (before its output is committed).
MergeSummary summarize(const MergeTarget& target, const PlannedMerge& planned,
                       const std::vector<MergeSummary::InputChecksum>& inputs, const MergeSession& session,
                       std::chrono::steady_clock::time_point started, const mpi::Comm& comm);

void log_summary(const Log& log, const MergeSummary& summary);
// Collective: writes the target's report (if its job asks for one) under its temporary name, then
// renames the output and the report into place together. Check the inputs' pins first.
void commit_target(MergeTarget& target, MergeSummary& summary, const mpi::Comm& comm);
// The plan, and on a job of more than one node the nodes_line after it.
std::string plan_line(const PlannedMerge& planned);
// "nodes   2: n1 ranks 0-2 (its share: 444 MiB per rank), n2 rank 3 (its share: ...); Open MPI
// v4.1.4, pml ob1, btl tcp,self,vader, ...": each node's ranks and the budget its own memory gave
// them, the MPI library and the transport settings it was given. Empty for a job of one node.
std::string nodes_line(const std::vector<NodeShare>& nodes, const mpi::TransportSettings& transport);

}  // namespace mpimerge
