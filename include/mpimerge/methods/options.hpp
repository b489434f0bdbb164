#pragma once
// The parameters of a merge. The command line's (and sweeps') fields, which the paper-exact TIES
// reads, plus a table of parameters per model and per tensor, as mergekit's job files give them,
// which every other method reads (see effective_parameters for how the two meet).
#include <span>
#include <string>
#include <vector>

#include "mpimerge/methods/parameters.hpp"

namespace mpimerge {

enum class TrimScope { model, tensor };
enum class DisjointMerge { mean, sum, max };

struct MethodOptions {
  std::string method = "ties";
  double density = 0.2;  // fraction of each task vector kept by the trim, in (0, 1]
  double lambda = 1.0;   // scale of the merged task vector
  TrimScope trim_scope = TrimScope::model;
  DisjointMerge disjoint_merge = DisjointMerge::mean;
  std::vector<double> weights;  // one per model (--weight); empty means equal weights
  // Per-model and per-tensor settings (job files, --param); they take precedence over the fields.
  ParameterTable params;
  // mergekit's rules, as a job file asks for them: `ties` without our `trim_scope` is mergekit's
  // TIES, and parameters mergekit requires (every model's `weight`) must be given. Without them
  // (the command line) `ties` is the paper's and weights default to 1.
  bool mergekit_rules = false;

  // Shorthands for tests and the command line: a global number or word, and a per-model number.
  MethodOptions& set(const std::string& name, double value);
  MethodOptions& set(const std::string& name, const std::string& word);
  MethodOptions& set(const std::string& name, const char* word) { return set(name, std::string(word)); }
  MethodOptions& set_flag(const std::string& name, bool value);
  MethodOptions& set_model(std::size_t model, const std::string& name, double value);
};

// The table a method that reads `params` sees: `params`, with the fields filling in what it
// leaves out: lambda, the weights of --weight, and (without mergekit_rules) weight 1 where the
// method would otherwise require one. Only parameters the method declares are filled in.
ParameterTable effective_parameters(const MethodOptions& options, std::span<const ParameterDef> defs);

// --weight gives one weight per model, in order: throws UsageError when the count differs.
void check_weight_count(const MethodOptions& options, std::size_t models, std::string_view method);

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
