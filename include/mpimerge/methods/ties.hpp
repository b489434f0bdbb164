#pragma once
// TIES-Merging, paper-exact: trim each task vector to its top density share of magnitudes (over
// the whole model, or per tensor), elect a sign per parameter, average the agreeing entries.
//
// Passes: radix selection of every task's threshold (2 passes for float32 models), then one pass
// that counts the elected signs over the whole model for the zero-sum fallback, then the merge.
#include <memory>
#include <optional>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/options.hpp"
#include "mpimerge/methods/scratch.hpp"
#include "mpimerge/selection.hpp"

namespace mpimerge {

class TiesMerge final : public MethodTemplate<TiesMerge> {
 public:
  explicit TiesMerge(const MethodOptions& options);
  std::string_view name() const override { return "ties"; }

  void start(const MergeShape& shape) override;
  bool needs_pass() const override { return phase_ != Phase::merge; }
  void finish_pass(Reductions& reductions) override;
  std::vector<MethodFinding> findings() const override;

  template <class T>
  void analyze_block(const Block<T>& block);
  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out);

 private:
  enum class Phase { select, count_signs, merge };
  std::size_t problem(std::size_t task, std::size_t tensor) const;
  // Computes every task's trimmed task vector for the block into scratch; returns one span each.
  template <class T>
  std::span<const std::span<T>> trimmed_task_vectors(const Block<T>& block);

  MethodOptions options_;
  Phase phase_ = Phase::select;
  bool wide_keys_ = false;
  std::optional<RadixSelection> selection_;
  std::vector<std::uint64_t> threshold_keys_;  // per problem
  std::int64_t positive_signs_ = 0, negative_signs_ = 0;
  int majority_sign_ = 0;
  MethodScratch scratch_;
};

}  // namespace mpimerge
