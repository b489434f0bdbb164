// Task arithmetic (Ilharco et al., 2023; mergekit `task_arithmetic`): theta_base + lambda *
// sum_t w_t tau_t, divided by sum_t w_t with normalize: true. And PEFT's `magnitude_prune`
// (src/peft/utils/merge_utils.py): each task vector trimmed to its int(density * n) largest
// magnitudes first, then the same weighted sum.
#include "mpimerge/methods/task_vector_merge.hpp"

namespace mpimerge {

const TaskVectorRecipe kTaskArithmeticRecipe{"task_arithmetic", Sparsification::none, false, false, false};
const TaskVectorRecipe kMagnitudePruneRecipe{"magnitude_prune", Sparsification::magnitude, false, false, false};

extern const MethodSpec kTaskArithmeticSpec = task_vector_spec(kTaskArithmeticRecipe, "base + lambda * weighted sum of task vectors", make_task_vector_merge<&kTaskArithmeticRecipe>);
extern const MethodSpec kMagnitudePruneSpec = task_vector_spec(kMagnitudePruneRecipe, "task arithmetic over magnitude-trimmed task vectors (PEFT)", make_task_vector_merge<&kMagnitudePruneRecipe>);

}  // namespace mpimerge
