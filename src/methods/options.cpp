#include "mpimerge/methods/options.hpp"

#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {

MethodOptions& MethodOptions::set(const std::string& name, double value) {
  params.set_global(name, ParameterSetting::scalar(ParameterScalar::of_number(value)));
  return *this;
}

MethodOptions& MethodOptions::set(const std::string& name, const std::string& word) {
  params.set_global(name, ParameterSetting::scalar(ParameterScalar::of_text(word)));
  return *this;
}

MethodOptions& MethodOptions::set_flag(const std::string& name, bool value) {
  params.set_global(name, ParameterSetting::scalar(ParameterScalar::of_boolean(value)));
  return *this;
}

MethodOptions& MethodOptions::set_model(std::size_t model, const std::string& name, double value) {
  params.set_model(model, name, ParameterSetting::scalar(ParameterScalar::of_number(value)));
  return *this;
}

ParameterTable effective_parameters(const MethodOptions& options, std::span<const ParameterDef> defs) {
  ParameterTable table = options.params;
  for (const ParameterDef& def : defs) {
    if (table.given(def.name)) continue;
    if (def.name == "lambda" && options.lambda != 1.0) {
      table.set_global("lambda", ParameterSetting::scalar(ParameterScalar::of_number(options.lambda)));
    } else if (def.name == "weight" && !options.weights.empty()) {
      for (std::size_t m = 0; m < options.weights.size(); ++m)
        table.set_model(m, "weight", ParameterSetting::scalar(ParameterScalar::of_number(options.weights[m])));
    } else if (def.name == "weight" && !def.default_value && !options.mergekit_rules) {
      table.set_global("weight", ParameterSetting::scalar(ParameterScalar::of_number(1.0)));
    }
  }
  return table;
}

void check_weight_count(const MethodOptions& options, std::size_t models, std::string_view method) {
  if (!options.weights.empty() && options.weights.size() != models)
    throw UsageError(std::string(method) + ": " + std::to_string(options.weights.size()) + " weights given for " +
                     std::to_string(models) + " models (--weight: one per model, in order)");
}

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
