#pragma once
// Every merge method by name. Adding a method: one file in src/methods/ and one row in
// src/methods/registry.cpp.
#include <memory>
#include <span>
#include <string_view>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/options.hpp"

namespace mpimerge {

struct MethodEntry {
  std::string_view name;
  std::string_view summary;
  std::unique_ptr<MergeMethod> (*make)(const MethodOptions&);
};

std::span<const MethodEntry> method_registry();

// Throws UsageError naming the known methods when options.method is not one of them.
std::unique_ptr<MergeMethod> make_method(const MethodOptions& options);

}  // namespace mpimerge
