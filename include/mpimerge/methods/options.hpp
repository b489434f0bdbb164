#pragma once
// The parameters of a merge, as the command line gives them.
#include <string>
#include <vector>

namespace mpimerge {

enum class TrimScope { model, tensor };
enum class DisjointMerge { mean, sum, max };

struct MethodOptions {
  std::string method = "ties";
  double density = 0.2;  // fraction of each task vector kept by the trim, in (0, 1]
  double lambda = 1.0;   // scale of the merged task vector
  TrimScope trim_scope = TrimScope::model;
  DisjointMerge disjoint_merge = DisjointMerge::mean;
  std::vector<double> weights;  // one per model for `average`; empty means equal weights
};

// "0.2" and "20" both mean 20%: values above 1 are percentages, as in the TIES paper's code.
// Throws UsageError outside (0, 1] and (1, 100].
double parse_density(double value);

// Throws UsageError for values no method can use, whichever way the job was given (command line,
// sweep grid, job file): a lambda that is not finite, weights that are negative or not finite.
void check_method_options(const MethodOptions& options);

TrimScope parse_trim_scope(const std::string& text);
DisjointMerge parse_disjoint_merge(const std::string& text);
std::string to_string(TrimScope scope);
std::string to_string(DisjointMerge merge);

}  // namespace mpimerge
