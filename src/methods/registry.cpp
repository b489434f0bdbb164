#include "mpimerge/methods/registry.hpp"

#include <array>
#include <string>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/linear.hpp"
#include "mpimerge/methods/ties.hpp"

namespace mpimerge {
namespace {

template <class Method>
std::unique_ptr<MergeMethod> make(const MethodOptions& options) {
  return std::make_unique<Method>(options);
}

constexpr std::array kMethods{
    MethodEntry{"ties", "TIES-Merging: trim, elect sign, disjoint merge (paper-exact)", make<TiesMerge>},
    MethodEntry{"task_arithmetic", "base + lambda * sum of task vectors", make<TaskArithmeticMerge>},
    MethodEntry{"average", "weighted average of the models", make<AverageMerge>},
};

}  // namespace

std::span<const MethodEntry> method_registry() { return kMethods; }

std::unique_ptr<MergeMethod> make_method(const MethodOptions& options) {
  std::string known;
  for (const auto& entry : kMethods) {
    if (entry.name == options.method) return entry.make(options);
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw UsageError("unknown method '" + options.method + "' (known: " + known + ")");
}

}  // namespace mpimerge
