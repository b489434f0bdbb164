#pragma once
// The method of a merge and its parameters, in one carrier: the table (global, per model, per
// tensor through gradients and filters), filled by the command line's flags, a job file or a
// sweep point alike, and checked against the method's declaration (method_spec.hpp).
#include <string>

#include "mpimerge/methods/parameters.hpp"

namespace mpimerge {

struct MethodOptions {
  std::string method = "ties";
  ParameterTable params;
  // mergekit's rules, as a job file asks for them: `ties` without our `trim_scope` is mergekit's
  // TIES, parameters mergekit requires (every model's `weight`) must be given, and parameters
  // mergekit accepts without effect here are allowed. The command line and sweeps use ours.
  bool mergekit_rules = false;

  // Shorthands for tests and the command line: a global number or word, and a per-model number.
  MethodOptions& set(const std::string& name, double value);
  MethodOptions& set(const std::string& name, const std::string& word);
  MethodOptions& set(const std::string& name, const char* word) { return set(name, std::string(word)); }
  MethodOptions& set_flag(const std::string& name, bool value);
  MethodOptions& set_model(std::size_t model, const std::string& name, double value);
};

}  // namespace mpimerge
