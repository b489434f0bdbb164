#pragma once
// Every merge method by name. Adding a method: one file in src/methods/ that defines its class and
// its MethodSpec (its parameters, side inputs and factory), and one line in
// src/methods/registry.cpp's list. Tests and plugins may add methods at run time.
#include <memory>
#include <span>
#include <string_view>

#include "mpimerge/methods/method_spec.hpp"
#include "mpimerge/methods/options.hpp"

namespace mpimerge {

// The built-in methods in registry order, then those added by register_method.
std::span<const MethodSpec* const> method_registry();

// Adds a method (a test's, a plugin's) before any merge starts; the spec must outlive every merge
// that uses it. Throws
// Error when a method of that name exists.
void register_method(const MethodSpec& spec);

// Throws UsageError naming the known methods when there is no method of that name.
const MethodSpec& find_method(std::string_view name);

// The method a job asks for: by name, or under mergekit's rules its variant (MethodSpec::mergekit_variant).
const MethodSpec& resolve_method(const MethodOptions& options);

// The job's method made and its parameters validated (validate_parameters), for `models` models.
// Throws UsageError.
std::unique_ptr<MergeMethod> make_method(const MethodOptions& options, std::size_t models);

}  // namespace mpimerge
