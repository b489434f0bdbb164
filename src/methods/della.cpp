// DELLA-Merging (Deep et al., 2024; mergekit `della`, `della_linear`): each entry of a task
// vector is kept with a probability that grows linearly with the rank of its magnitude within
// its row, from density - epsilon to density + epsilon, and rescaled by 1 / probability
// (`rescale: true`, the paper and mergekit before 2025) or to the L1 norm (`rescale: l1`); then
// TIES's election and disjoint merge (`della`) or task arithmetic (`della_linear`).
#include "mpimerge/methods/task_vector_merge.hpp"

namespace mpimerge {

const TaskVectorRecipe kDellaRecipe{"della", Sparsification::della, true, true, true};
const TaskVectorRecipe kDellaLinearRecipe{"della_linear", Sparsification::della, false, false, true};

extern const MethodSpec kDellaSpec = task_vector_spec(kDellaRecipe, "DELLA: magnitude-ranked random drop, then sign election", make_task_vector_merge<&kDellaRecipe>);
extern const MethodSpec kDellaLinearSpec = task_vector_spec(kDellaLinearRecipe, "DELLA: magnitude-ranked random drop, then task arithmetic", make_task_vector_merge<&kDellaLinearRecipe>);

}  // namespace mpimerge
