// TIES as mergekit (`ties`) and PEFT (`ties`) have it (Yadav et al., 2023): each task vector
// trimmed to exactly int(density * n) entries of largest magnitude per tensor, the sign elected
// from the sum of the weighted task vectors (a zero sum elects +), the agreeing weighted entries
// summed and divided by the sum of their weights (normalize: true), times lambda. With weights 1
// this is PEFT's ties, which divides by the count of agreeing entries. The paper's own rules are
// TiesMerge (ties.hpp), chosen by giving `trim_scope`.
#include "mpimerge/methods/task_vector_merge.hpp"

namespace mpimerge {

const TaskVectorRecipe kTiesMergekitRecipe{"ties_mergekit", Sparsification::magnitude, true, true, false};

extern const MethodSpec kTiesMergekitSpec = task_vector_spec(kTiesMergekitRecipe, "TIES as mergekit and PEFT: exactly int(density * n) entries kept per tensor, weighted; what a job file's `ties` without trim_scope runs", make_task_vector_merge<&kTiesMergekitRecipe>);

}  // namespace mpimerge
