#pragma once
// TIES-Merging, paper-exact: trim each task vector to its top density share of magnitudes (over
// the whole model, or per tensor), elect a sign per parameter, average the agreeing entries.
//
// Passes (docs/methods.md, "Distributed"):
//   sample  a few rows of every tensor: pivots that bracket each task's threshold;
//   count   every entry classified against the pivots (SampledSelection); at the same time the
//           elected sign of every parameter whose trim is already decided is counted, and the few
//           parameters with an entry at or between the pivots are kept aside;
//   merge   after the exact thresholds are known and the kept-aside signs are counted.
// Exactness never rests on the sample: if a threshold falls outside its pivots, radix selection
// over the data finds it (two more passes for float32), then one pass counts the signs. When the
// candidates between the pivots outgrow the memory, the counting pass histograms them instead and
// runs once more between the pivots of the bin that holds the threshold (3 reads in all); when the
// sample foresees that, the first count only bins, in all the method's memory, and tallies no signs.
// Where that count overflows too, it bins and counts again between narrower pivots, while that is
// foreseen to cost no more passes than radix selection and a sign count (narrowing_pays).
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"
#include "mpimerge/methods/scratch.hpp"
#include "mpimerge/methods/sign_tally.hpp"
#include "mpimerge/methods/ties_kernels.hpp"
#include "mpimerge/selection/radix.hpp"
#include "mpimerge/selection/sampled.hpp"

namespace mpimerge {

enum class TrimScope { model, tensor };

class TiesMerge final : public MethodTemplate<TiesMerge> {
 public:
  explicit TiesMerge(const MethodArgs& args);
  std::string_view name() const override { return "ties"; }

  std::uint64_t memory_wanted(const MergeShape& shape) const override;
  void start(const MergeShape& shape) override;
  void lend_idle_memory(std::uint64_t bytes) override;
  // Per-tensor trimming: each tensor's selection stands alone (the engine may run it in runs).
  std::optional<std::uint64_t> tensor_analysis_memory(std::size_t tensor) const override;
  void start_tensors(std::size_t first, std::size_t end) override;
  bool needs_pass() const override { return phase_ != Phase::merge; }
  PassKind pass_kind() const override { return phase_ == Phase::sample ? PassKind::sample : PassKind::full; }
  double sample_fraction(std::size_t tensor) const override;
  std::uint64_t sample_bytes_per_element() const override;
  // The share of a tensor's keys the sample would take with no memory limit.
  double planned_fraction(std::size_t tensor) const;
  void finish_pass(Reductions& reductions) override;
  void finish_merge(Reductions& reductions) override;
  std::vector<MethodFinding> findings() const override;
  std::optional<std::string> saved_state() const override;
  bool restore_state(const std::string& state) override;

  template <class T>
  void analyze_block(const Block<T>& block);
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  enum class Phase { sample, count, radix, count_signs, merge };
  // Per selection problem, what a counting round after bins_first and its refined round need for
  // the bins, the candidates held once with their counts, and the sign tally's keys (measured:
  // ties.cpp, memory_wanted).
  static constexpr std::uint64_t kMemoryPerProblem = 2048;
  // Sampled keys each tensor keeps first where the sample must be thinned (plan_sample).
  static constexpr std::uint64_t kLeastSampleKeys = 512;
  std::size_t problem(std::size_t task, std::size_t tensor) const;
  // The same problem in the selection of the run analysed now (sampled_, radix_ count from first_problem_).
  std::size_t run_problem(std::size_t task, std::size_t tensor) const { return problem(task, tensor) - first_problem_; }
  unsigned key_bits() const { return wide_keys_ ? 63u : 31u; }  // of |tau|'s keys
  template <class T>
  void sample_block(const Block<T>& block);
  template <class T>
  void count_block(const Block<T>& block);
  template <class T>
  void radix_block(const Block<T>& block);
  template <class T>
  void count_signs_block(const Block<T>& block);
  // Every task's trimmed task vector for the block, into scratch; sums: their sums in task order;
  // *kept: their nonzero entries.
  template <class T>
  std::span<const std::span<T>> trimmed_task_vectors(const Block<T>& block, std::span<T> sums,
                                                     std::uint64_t* kept = nullptr);
  template <class T>
  int elected_sign(std::span<const T> tau, std::size_t tensor) const;

  // A selection of tensors [first, end)'s problems (signs, fallback cleared); whether any is cut.
  bool begin_selection(std::size_t first, std::size_t end);
  // The sample of tensors [first, end) within sample_memory; the elements it takes per model, all ranks.
  double plan_sample(std::size_t first, std::size_t end, std::uint64_t sample_memory);
  void finish_count(Reductions& reductions);
  // After a count with failed problems: whether counting again between narrower pivots is foreseen
  // to cost no more passes than radix selection and a sign count (always, the first time).
  bool narrowing_pays() const;
  // Adds a run's elected signs (summed over the ranks); the analysis of the run is then done.
  void finish_signs(std::int64_t positive, std::int64_t negative);
  void take_thresholds_from_radix();
  template <class T>
  void tally_undecided(const Block<T>& block, std::span<const std::span<T>> tau, std::span<const T> signs_if_cut,
                       std::span<const T> sums_if_kept);

  struct Settings {
    double density = 0.2;
    double lambda = 1.0;
    TrimScope trim_scope = TrimScope::model;
    DisjointMerge disjoint_merge = DisjointMerge::mean;
  };
  MethodArgs args_;
  Settings settings_;
  std::uint64_t total_elements_ = 0;  // of every merged tensor, per model
  Phase phase_ = Phase::sample;
  // The sample's share of each tensor where planned_fraction's would not fit the memory (plan_sample).
  bool sample_thinned_ = false;
  std::vector<double> sample_fractions_;
  std::vector<std::uint64_t> sample_stride_;  // per tensor: keep every stride-th sampled key
  bool wide_keys_ = false;
  std::optional<SampledSelection> sampled_;
  std::vector<SampledSelection::Bracket> brackets_;  // every problem's pivots, from the sample (for runs)
  std::optional<RadixSelection> radix_;  // the fallback, for the problems the sample missed
  std::vector<std::uint64_t> threshold_keys_, kept_below_;  // per problem: threshold, keys below it
  std::optional<SignTally> signs_;  // the counting pass's elected signs
  std::uint64_t undecided_count_ = 0;  // parameters whose sign waited for the thresholds
  std::int64_t positive_signs_ = 0, negative_signs_ = 0;  // summed over the ranks and the runs so far
  std::int64_t run_positive_ = 0, run_negative_ = 0;     // a sign-counting pass's, on this rank
  std::size_t first_problem_ = 0;  // of the run of tensors analysed now: sampled_ and radix_ count from it
  int majority_sign_ = 0;
  int fallback_passes_ = 0;
  int sign_count_passes_ = 0;  // passes that counted the elected signs alone, summed over runs
  // Counting passes run again between narrower pivots (SampledSelection::refine), in this run.
  int narrowings_ = 0;
  std::uint64_t sign_memory_ = 0;
  std::int64_t kept_entries_ = 0, lost_entries_ = 0;  // over the merge: all kept, and those not merged
  MethodScratch scratch_;
  // Per parameter of a block in the counting pass: its undecided entries, as
  // ties::classify_task_vector marks them (none, one task's, several).
  std::vector<std::uint32_t> undecided_;
  // The counting pass's block: each task's pivots ({0, 0} without a cut), and the keys strictly
  // between them that tally_undecided found (task t's first candidate_counts_[t] keys from
  // candidate_keys_[t * block size]).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pivots_;
  std::vector<std::uint64_t> candidate_keys_;
  std::vector<std::size_t> candidate_counts_;
};

}  // namespace mpimerge
