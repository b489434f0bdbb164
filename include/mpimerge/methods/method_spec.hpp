#pragma once
// A merge method's declaration: its name, its parameters, its side inputs and how to make it.
// Each method file defines one (`const MethodSpec kDellaSpec` in della.cpp) and
// src/methods/registry.cpp lists it. The command line's flags, job files, sweep grids,
// validation, the banner, the JSON report and the sweep CSV all derive from it.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/parameters.hpp"

namespace mpimerge {

enum class SideInputKind {
  aligned,   // element-aligned with the models, read row by row with them (Fisher diagonals)
  matrices,  // per-tensor matrices that every rank reads whole (RegMean's Gram matrices)
};

// Data beyond the checkpoints, one file per model, required when declared.
struct SideInputDef {
  std::string_view name = {};  // the option (--fisher) and the job file's per-model key (fisher:)
  SideInputKind kind = SideInputKind::aligned;
  std::string_view help = {};
};

struct MethodSpec;

// What a method is made from: its declaration, and the job's parameters validated against it
// (validate_parameters: percentages already read as fractions).
struct MethodArgs {
  const MethodSpec* spec = nullptr;
  ParameterTable params;
};

struct MethodSpec {
  std::string_view name = {};
  std::string_view summary = {};
  std::vector<ParameterDef> parameters = {};
  std::vector<SideInputDef> side_inputs = {};
  bool needs_base = true;
  // For a method that does not need a base: whether a base, when given, is the origin its task
  // vectors are measured from (nuslerp, multislerp), rather than one more input (karcher) or a
  // layout to follow (linear). A job file's model equal to its base_model is then the base, not a
  // model, as mergekit takes it.
  bool optional_base = false;
  // How many models (besides the base) it merges: slerp exactly one, Model Stock at least two.
  std::size_t min_models = 1, max_models = SIZE_MAX;
  // Constraints between parameters, checked once the tensors are known, before any data is read
  // (DELLA: density +- epsilon within (0, 1)). Throws UsageError naming them.
  void (*check)(const ParameterView& params) = nullptr;
  std::unique_ptr<MergeMethod> (*make)(const MethodArgs& args) = nullptr;
  // A job file (mergekit's rules) naming this method without `own_key` among its parameters gets
  // `mergekit_variant` instead: `ties` in a job file is mergekit's TIES unless it gives trim_scope.
  std::string_view mergekit_variant = {};
  std::string_view own_key = {};

  const ParameterDef* find(std::string_view parameter) const;
  const SideInputDef* find_side_input(std::string_view input) const;
};

// make = &make_method_of<SomeMerge>, for a method class constructed from MethodArgs.
template <class Method>
std::unique_ptr<MergeMethod> make_method_of(const MethodArgs& args) {
  return std::make_unique<Method>(args);
}

}  // namespace mpimerge
