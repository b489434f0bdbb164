// Model Breadcrumbs (Davari & Belilovsky, 2023; mergekit `breadcrumbs`, `breadcrumbs_ties`): each
// task vector loses its int(gamma * n) largest magnitudes (outliers) and enough of its smallest
// that int(density * n) remain; then task arithmetic, or TIES's election and disjoint merge.
#include "mpimerge/methods/task_vector_merge.hpp"

namespace mpimerge {

const TaskVectorRecipe kBreadcrumbsRecipe{"breadcrumbs", Sparsification::magnitude_outliers, false, false, false};
const TaskVectorRecipe kBreadcrumbsTiesRecipe{"breadcrumbs_ties", Sparsification::magnitude_outliers, true, false, false};

extern const MethodSpec kBreadcrumbsSpec = task_vector_spec(kBreadcrumbsRecipe, "Model Breadcrumbs: drop outliers and small entries, then task arithmetic", make_task_vector_merge<&kBreadcrumbsRecipe>);
extern const MethodSpec kBreadcrumbsTiesSpec = task_vector_spec(kBreadcrumbsTiesRecipe, "Model Breadcrumbs, then sign election", make_task_vector_merge<&kBreadcrumbsTiesRecipe>);

}  // namespace mpimerge
