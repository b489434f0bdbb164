#include "mpimerge/methods/registry.hpp"

#include <array>
#include <string>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/fisher.hpp"
#include "mpimerge/methods/linear.hpp"
#include "mpimerge/methods/model_stock.hpp"
#include "mpimerge/methods/regmean.hpp"
#include "mpimerge/methods/slerp.hpp"
#include "mpimerge/methods/task_vector_merge.hpp"
#include "mpimerge/methods/ties.hpp"

namespace mpimerge {
namespace {

template <class Method>
std::unique_ptr<MergeMethod> make(const MethodOptions& options) {
  return std::make_unique<Method>(options);
}

template <const TaskVectorRecipe* recipe>
std::unique_ptr<MergeMethod> task_vectors(const MethodOptions& options) {
  return std::make_unique<TaskVectorMerge>(*recipe, options);
}

// `ties` is the paper's TIES on the command line, and in a job file that names our `trim_scope`;
// a job file without it (mergekit's rules) gets mergekit's TIES.
std::unique_ptr<MergeMethod> ties(const MethodOptions& options) {
  if (options.mergekit_rules && !options.params.given("trim_scope"))
    return std::make_unique<TaskVectorMerge>(kTiesMergekitRecipe, options);
  return std::make_unique<TiesMerge>(paper_ties_options(options));
}

std::unique_ptr<MergeMethod> linear(const MethodOptions& options) { return std::make_unique<LinearMerge>(options, true); }
std::unique_ptr<MergeMethod> average(const MethodOptions& options) { return std::make_unique<LinearMerge>(options, false); }

constexpr std::array kMethods{
    MethodEntry{"ties", "TIES-Merging: the paper's (trim over the model), or mergekit's in a job file without trim_scope",
                ties},
    MethodEntry{"task_arithmetic", "base + lambda * weighted sum of task vectors", task_vectors<&kTaskArithmeticRecipe>},
    MethodEntry{"average", "weighted average of the models (weights default to 1)", average},
    MethodEntry{"linear", "weighted average of the models (mergekit's linear)", linear},
    MethodEntry{"magnitude_prune", "task arithmetic over magnitude-trimmed task vectors (PEFT)",
                task_vectors<&kMagnitudePruneRecipe>},
    MethodEntry{"dare_linear", "DARE: random drop and rescale, then task arithmetic", task_vectors<&kDareLinearRecipe>},
    MethodEntry{"dare_ties", "DARE: random drop and rescale, then sign election", task_vectors<&kDareTiesRecipe>},
    MethodEntry{"breadcrumbs", "Model Breadcrumbs: drop outliers and small entries, then task arithmetic",
                task_vectors<&kBreadcrumbsRecipe>},
    MethodEntry{"breadcrumbs_ties", "Model Breadcrumbs, then sign election", task_vectors<&kBreadcrumbsTiesRecipe>},
    MethodEntry{"della", "DELLA: magnitude-ranked random drop, then sign election", task_vectors<&kDellaRecipe>},
    MethodEntry{"della_linear", "DELLA: magnitude-ranked random drop, then task arithmetic",
                task_vectors<&kDellaLinearRecipe>},
    MethodEntry{"slerp", "spherical interpolation between the base and one model (parameter t)", make<SlerpMerge>},
    MethodEntry{"model_stock", "Model Stock: towards the models' average by their task vectors' angle",
                make<ModelStockMerge>},
    MethodEntry{"fisher", "Fisher-weighted averaging (one diagonal Fisher per model: --fisher)", make<FisherMerge>},
    MethodEntry{"regmean", "RegMean: least-squares merge of linear layers (one Gram file per model: --gram)",
                make<RegMeanMerge>},
};

}  // namespace

std::span<const MethodEntry> method_registry() { return kMethods; }

std::unique_ptr<MergeMethod> make_method(const MethodOptions& options) {
  std::string known;
  for (const auto& entry : kMethods) {
    if (entry.name == options.method) {
      // The fields (command line, sweeps) fill in what the parameter table leaves out.
      MethodOptions effective = options;
      effective.params = effective_parameters(options, entry.make(options)->parameters());
      auto method = entry.make(effective);
      check_parameters(effective.params, method->parameters(), entry.name);
      return method;
    }
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw UsageError("unknown method '" + options.method + "' (known: " + known + ")");
}

}  // namespace mpimerge
