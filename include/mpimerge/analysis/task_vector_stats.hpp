#pragma once
// The statistics that motivate TIES-Merging (Yadav et al., 2023, sections 3 and 7.x): how the
// magnitude of each task vector tau_t = theta_t - theta_base is distributed, how much of its L2
// mass its largest entries hold, and, at each trim density, how often the entries that the trim
// keeps disagree in sign between tasks.
//
// TaskVectorAnalysis is a MergeMethod that only analyses: the engine runs its passes over every
// rank's slices like a merge's (MergeSession::analyze) and it never merges or writes. Passes:
//   select  exact order statistics of every task's |tau| (RadixSelection, two passes for float32
//           keys, one per 16 bits): the quantiles, the maximum, and the trim threshold of every
//           density, model-scope as the paper's topk_values_mask;
//   tally   one pass: every task's sum of squares above each threshold, and per parameter and
//           density the kept entries' signs.
// Every global value comes from integer sums, so the results do not depend on the rank count:
//   - quantiles are exact: the q-quantile is the ceil(q n)-th smallest |tau| of the n parameters
//     (the "inverted CDF" definition, numpy.quantile(method="inverted_cdf"));
//   - sums of squares are summed in fixed point: each tau^2 is truncated to a multiple of 2^-52 of
//     the task's largest tau^2 (relative error below n 2^-52 of the total), then summed exactly.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/selection/radix.hpp"

namespace mpimerge {

struct AnalysisOptions {
  std::vector<double> quantiles{0.5, 0.9, 0.99, 0.999};  // in (0, 1]
  std::vector<double> mass_tops{0.01, 0.05, 0.1, 0.2, 0.5};  // top shares of |tau| whose L2 mass is measured
  std::vector<double> densities{0.05, 0.1, 0.2};  // trim densities of the sign-conflict counts
};

// Sign agreement of the kept entries (nonzero and at or above their task's threshold) at one density.
struct SignConflicts {
  std::uint64_t parameters = 0;    // all parameters counted
  std::uint64_t kept_entries = 0;  // kept entries, summed over tasks
  std::uint64_t multi_kept = 0;    // parameters with >= 2 kept entries
  std::uint64_t conflicting = 0;   // parameters whose kept entries include both signs
  double among_multi_kept() const { return multi_kept ? double(conflicting) / double(multi_kept) : 0.0; }
  double among_all() const { return parameters ? double(conflicting) / double(parameters) : 0.0; }
};

struct TaskStats {
  std::vector<double> quantiles;      // per AnalysisOptions::quantiles
  double max = 0;                     // largest |tau|
  double sum_of_squares = 0;          // ||tau||^2
  std::vector<double> mass_fraction;  // per mass top: the share of ||tau||^2 in the kept entries
  std::vector<double> mass_kept;      // per mass top: the share of entries kept (ties at the threshold kept)
  std::vector<double> thresholds;     // per density: the trim threshold on |tau|
  std::vector<double> kept_fraction;  // per density: the share of entries at or above it
};

struct TaskVectorStats {
  AnalysisOptions options;
  std::uint64_t parameters = 0;  // per model, over the analysed (floating-point) tensors
  std::vector<std::string> tensor_names;
  std::vector<std::uint64_t> tensor_elements;
  std::vector<TaskStats> tasks;
  std::vector<SignConflicts> conflicts;                 // per density, over the whole model
  std::vector<std::vector<SignConflicts>> per_tensor;   // [tensor][density]
  int passes = 0;
};

namespace analysis {
// The 1-based rank of the q-quantile among n values: ceil(q n), at least 1.
std::uint64_t quantile_rank(std::uint64_t n, double q);
// Checks the levels (each in (0, 1]); throws UsageError naming the option.
void check_options(const AnalysisOptions& options);
}  // namespace analysis

class TaskVectorAnalysis final : public MethodTemplate<TaskVectorAnalysis> {
 public:
  explicit TaskVectorAnalysis(AnalysisOptions options);
  std::string_view name() const override { return "analyze"; }

  void start(const MergeShape& shape) override;
  bool needs_pass() const override { return phase_ != Phase::done; }
  void finish_pass(Reductions& reductions) override;

  template <class T>
  void analyze_block(const Block<T>& block);
  // An analysis writes no checkpoint: the engine never calls merge.
  template <class T>
  void merge_block(const Block<T>&, std::span<T>);

  // After the passes (identical on every rank).
  const TaskVectorStats& stats() const { return stats_; }

 private:
  enum class Phase { select, tally, done };
  // Radix problems per task: quantiles, the maximum, mass tops, densities.
  std::size_t per_task() const;
  std::size_t problem(std::size_t task, std::size_t index) const { return task * per_task() + index; }
  template <class T>
  void select_block(const Block<T>& block);
  template <class T>
  void tally_block(const Block<T>& block);
  void finish_select();
  void finish_tally(Reductions& reductions);
  double value_of(std::uint64_t key) const;

  AnalysisOptions options_;
  Phase phase_ = Phase::done;
  bool wide_keys_ = false;
  std::optional<RadixSelection> radix_;
  std::vector<std::uint64_t> keys_;            // [problem]: the selected key
  std::vector<std::uint64_t> below_;           // [problem]: keys below it
  std::vector<int> mass_shift_;                // [task]: tau^2 * 2^shift < 2^52
  // Tally counters, summed over ranks in finish_tally:
  std::vector<std::int64_t> mass_hi_, mass_lo_;  // [task][mass top + 1 (the total)]
  std::vector<std::int64_t> conflict_counts_;    // [tensor][density][kept, multi, conflicting]
  std::vector<double> tau_;                      // scratch: [task][element] of one block
  std::vector<std::uint64_t> tau_keys_;
  TaskVectorStats stats_;
};

}  // namespace mpimerge
