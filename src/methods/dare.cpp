// DARE (Yu et al., 2024, "Language Models are Super Mario"): drop each entry of a task vector
// with probability p = 1 - density and rescale the survivors by 1 / density (`rescale: true`, the
// paper, PEFT, and mergekit before 2025) or to the task vector's L1 norm (`rescale: l1`, mergekit
// today); then task arithmetic (`dare_linear`) or TIES's election and disjoint merge (`dare_ties`).
// The draw is counter-based (sparsify::dare_stream), so the merge is the same at any rank count.
#include "mpimerge/methods/task_vector_merge.hpp"

namespace mpimerge {

const TaskVectorRecipe kDareLinearRecipe{"dare_linear", Sparsification::random, false, false, true};
const TaskVectorRecipe kDareTiesRecipe{"dare_ties", Sparsification::random, true, false, true};

extern const MethodSpec kDareLinearSpec = task_vector_spec(kDareLinearRecipe, "DARE: random drop and rescale, then task arithmetic", make_task_vector_merge<&kDareLinearRecipe>);
extern const MethodSpec kDareTiesSpec = task_vector_spec(kDareTiesRecipe, "DARE: random drop and rescale, then sign election", make_task_vector_merge<&kDareTiesRecipe>);

}  // namespace mpimerge
