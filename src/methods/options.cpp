#include "mpimerge/methods/options.hpp"

#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {

double parse_density(double value) {
  if (!(value > 0.0) || value > 100.0 || std::isnan(value))
    throw UsageError("density " + format_number(value) +
                     " is out of range: give a fraction in (0, 1] or a percentage in (1, 100]");
  // The paper's code (topk_values_mask): `if K > 1: K /= 100`, in double precision.
  return value > 1.0 ? value / 100.0 : value;
}

void check_method_options(const MethodOptions& options) {
  if (!std::isfinite(options.lambda))
    throw UsageError("lambda must be a finite number (got " + format_number(options.lambda) + ")");
  for (std::size_t i = 0; i < options.weights.size(); ++i) {
    const double w = options.weights[i];
    const std::string which = options.method + ": weight " + format_number(w) + " of model " + std::to_string(i + 1);
    if (!std::isfinite(w)) throw UsageError(which + " is not a finite number");
    if (w < 0) throw UsageError(which + " is negative");
  }
}

TrimScope parse_trim_scope(const std::string& text) {
  if (text == "model") return TrimScope::model;
  if (text == "tensor") return TrimScope::tensor;
  throw UsageError("unknown trim scope '" + text + "' (expected model or tensor)");
}

DisjointMerge parse_disjoint_merge(const std::string& text) {
  if (text == "mean") return DisjointMerge::mean;
  if (text == "sum") return DisjointMerge::sum;
  if (text == "max") return DisjointMerge::max;
  throw UsageError("unknown disjoint merge '" + text + "' (expected mean, sum or max)");
}

std::string to_string(TrimScope scope) { return scope == TrimScope::model ? "model" : "tensor"; }

std::string to_string(DisjointMerge merge) {
  switch (merge) {
    case DisjointMerge::mean: return "mean";
    case DisjointMerge::sum: return "sum";
    case DisjointMerge::max: return "max";
  }
  return "?";
}

}  // namespace mpimerge
