// TIES as mergekit (`ties`) and PEFT (`ties`) have it (Yadav et al., 2023): each task vector
// trimmed to exactly int(density * n) entries of largest magnitude per tensor, the sign elected
// from the sum of the weighted task vectors (a zero sum elects +), the agreeing weighted entries
// summed and divided by the sum of their weights (normalize: true), times lambda. With weights 1
// this is PEFT's ties, which divides by the count of agreeing entries. The paper's own rules are
// TiesMerge (ties.hpp), chosen by giving `trim_scope`.
#include "mpimerge/methods/task_vector_merge.hpp"

namespace mpimerge {

const TaskVectorRecipe kTiesMergekitRecipe{"ties", Sparsification::magnitude, true, true, false};

}  // namespace mpimerge
