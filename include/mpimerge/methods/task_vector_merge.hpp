#pragma once
// The task-vector methods as mergekit has them (mergekit/merge_methods/generalized_task_arithmetic.py,
// "generalized task arithmetic"), one pipeline with a recipe per method:
//
//   tau_t   = theta_t - theta_base                               per model t, per tensor
//   tau_t  <- sparsify(tau_t; density_t, ...)                    none | magnitude | outliers | random | della
//   x_t     = w_t * tau_t
//   merged  = sum_t x_t, divisor = sum_t w_t                     (recipes without sign election)
//           | sum of the x_t that agree with the elected sign, divisor = sum of their w_t
//   merged /= divisor                                            when normalize
//   theta   = theta_base + lambda * merged
//
// Recipes (defaults as mergekit's registry): task_arithmetic, ties (mergekit's), dare_linear,
// dare_ties, breadcrumbs, breadcrumbs_ties, della, della_linear, and PEFT's magnitude_prune.
//
// Global statistics, all exact and independent of the rank count: the magnitude cuts of each
// tensor's task vectors (radix selection, then one exclusive prefix sum for the tie-break by
// index), DELLA's ranks over one-dimensional tensors (gathered with an integer sum), and the L1
// norms of `rescale: l1` (exact sums).
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/consensus_kernels.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"
#include "mpimerge/methods/scratch.hpp"
#include "mpimerge/methods/sparsify.hpp"
#include "mpimerge/selection/radix.hpp"

namespace mpimerge {

enum class Sparsification { none, magnitude, magnitude_outliers, random, della };

struct TaskVectorRecipe {
  std::string_view name;
  Sparsification sparsification = Sparsification::none;
  bool elects_sign = false;       // TIES-style election and disjoint merge
  bool default_normalize = false;
  bool default_rescale = false;
};

// The declaration of a recipe's method: mergekit's parameters for it (weight, density, normalize,
// lambda, rescale, and gamma, epsilon, seed, consensus where the recipe uses them).
MethodSpec task_vector_spec(const TaskVectorRecipe& recipe, std::string_view summary,
                            std::unique_ptr<MergeMethod> (*make)(const MethodArgs&));

// The recipes, each defined in its method's file with its MethodSpec.
extern const TaskVectorRecipe kTaskArithmeticRecipe;   // task_arithmetic.cpp
extern const TaskVectorRecipe kMagnitudePruneRecipe;   // task_arithmetic.cpp (PEFT)
extern const TaskVectorRecipe kTiesMergekitRecipe;     // ties_mergekit.cpp
extern const TaskVectorRecipe kDareLinearRecipe;       // dare.cpp
extern const TaskVectorRecipe kDareTiesRecipe;         // dare.cpp
extern const TaskVectorRecipe kBreadcrumbsRecipe;      // breadcrumbs.cpp
extern const TaskVectorRecipe kBreadcrumbsTiesRecipe;  // breadcrumbs.cpp
extern const TaskVectorRecipe kDellaRecipe;            // della.cpp
extern const TaskVectorRecipe kDellaLinearRecipe;      // della.cpp

// make for a recipe's MethodSpec.
template <const TaskVectorRecipe* recipe>
std::unique_ptr<MergeMethod> make_task_vector_merge(const MethodArgs& args);

class TaskVectorMerge final : public MethodTemplate<TaskVectorMerge> {
 public:
  TaskVectorMerge(const TaskVectorRecipe& recipe, const MethodArgs& args);
  std::string_view name() const override { return recipe_.name; }

  void start(const MergeShape& shape) override;
  bool needs_pass() const override { return phase_ != Phase::merge; }
  void finish_pass(Reductions& reductions) override;
  bool whole_rows(std::size_t tensor) const override;
  std::vector<MethodFinding> findings() const override;

  template <class T>
  void analyze_block(const Block<T>& block);
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  enum class Phase { select, tie_counts, gather_ranks, l1_norms, merge };
  enum class Rescale { none, by_probability, l1 };

  // The sparsification of one model's task vector of one tensor.
  struct Sparse {
    bool active = false;  // false: kept whole (no sparsification, or density >= 1)
    double density = 1, epsilon = 0;
    sparsify::Band band;
    sparsify::Cut lo, hi;
    std::optional<std::size_t> lo_problem, hi_problem;  // their selection problems
    std::optional<std::size_t> gather_offset;  // DELLA over a tensor of at most one dimension
    std::vector<double> rank_norm;             // its normalized ranks, after the gather
    ExactSum l1_before, l1_after;
    bool l1_applies = false;
    double l1_factor = 1;
  };
  struct TensorSettings {
    double lambda = 1;
    bool normalize = false;
    Rescale rescale = Rescale::none;
    consensus::Election election = consensus::Election::sum;
    std::uint64_t seed = 0;
    std::vector<double> weights;
    double divisor = 1;  // without sign election: the sum of the weights (in the compute type)
  };

  Phase following(Phase phase) const;
  bool has_work(Phase phase) const;
  Sparse& sparse(std::size_t tensor, std::size_t model) { return sparse_[tensor * shape_.models + model]; }
  template <class T>
  void check_order(const Block<T>& block);
  // tau = model - base, sparsified; with the L1 rescale once its factor is known.
  template <class T>
  void sparsified_task_vector(const Block<T>& block, std::size_t model, bool with_l1, std::span<T> tau);
  template <class T>
  void della_probabilities(const Block<T>& block, std::size_t model, std::span<const T> tau, std::span<double> p);

  TaskVectorRecipe recipe_;
  MethodArgs args_;
  std::vector<TensorSettings> settings_;  // per tensor
  std::vector<Sparse> sparse_;            // [tensor * models + model]
  std::vector<sparsify::Cut*> cut_of_problem_;  // selection problem -> cut
  std::vector<std::pair<std::size_t, std::uint64_t>> problem_position_;  // (tensor, p) per problem
  std::optional<RadixSelection> selection_;
  std::vector<std::int64_t> gathered_;
  std::vector<std::uint64_t> next_element_;  // per tensor: where the next block must start
  bool wide_keys_ = false;
  Phase phase_ = Phase::merge;
  MethodScratch scratch_, weight_scratch_;
  std::vector<double> probabilities_;
  std::vector<std::uint32_t> keep_;  // DARE's draws for one block
  std::vector<std::uint64_t> group_keys_;
  std::vector<std::uint32_t> group_order_;
  std::vector<double> group_ranks_;
};

template <const TaskVectorRecipe* recipe>
std::unique_ptr<MergeMethod> make_task_vector_merge(const MethodArgs& args) {
  return std::make_unique<TaskVectorMerge>(*recipe, args);
}

}  // namespace mpimerge
