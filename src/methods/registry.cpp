#include "mpimerge/methods/registry.hpp"

#include <string>
#include <vector>

#include "mpimerge/error.hpp"

namespace mpimerge {

// The methods, one line each: the MethodSpec its file defines. In the order help texts and docs
// list them.
#define MPIMERGE_METHODS(METHOD) \
  METHOD(kPaperTiesSpec)         \
  METHOD(kTiesMergekitSpec)      \
  METHOD(kTaskArithmeticSpec)    \
  METHOD(kAverageSpec)           \
  METHOD(kLinearSpec)            \
  METHOD(kMagnitudePruneSpec)    \
  METHOD(kDareLinearSpec)        \
  METHOD(kDareTiesSpec)          \
  METHOD(kBreadcrumbsSpec)       \
  METHOD(kBreadcrumbsTiesSpec)   \
  METHOD(kDellaSpec)             \
  METHOD(kDellaLinearSpec)       \
  METHOD(kSlerpSpec)             \
  METHOD(kModelStockSpec)        \
  METHOD(kNuSlerpSpec)           \
  METHOD(kMultiSlerpSpec)        \
  METHOD(kKarcherSpec)           \
  METHOD(kSceSpec)               \
  METHOD(kArceeFusionSpec)       \
  METHOD(kNearSwapSpec)          \
  METHOD(kPassthroughSpec)       \
  METHOD(kFisherSpec)            \
  METHOD(kRegMeanSpec)           \
  METHOD(kTsvMSpec)              \
  METHOD(kIsoCSpec)              \
  METHOD(kIsoCtsSpec)

#define MPIMERGE_DECLARE_METHOD(spec) extern const MethodSpec spec;
MPIMERGE_METHODS(MPIMERGE_DECLARE_METHOD)

namespace {

std::vector<const MethodSpec*>& registry() {
#define MPIMERGE_METHOD_ADDRESS(spec) &spec,
  static std::vector<const MethodSpec*> methods{MPIMERGE_METHODS(MPIMERGE_METHOD_ADDRESS)};
  return methods;
}

}  // namespace

const ParameterDef* MethodSpec::find(std::string_view parameter) const {
  for (const auto& d : parameters)
    if (d.name == parameter) return &d;
  return nullptr;
}

const SideInputDef* MethodSpec::find_side_input(std::string_view input) const {
  for (const auto& s : side_inputs)
    if (s.name == input) return &s;
  return nullptr;
}

std::span<const MethodSpec* const> method_registry() {
  return registry();
}

void register_method(const MethodSpec& spec) {
  for (const MethodSpec* s : registry())
    if (s->name == spec.name) throw Error("a method named '" + std::string(spec.name) + "' is registered already");
  registry().push_back(&spec);
}

const MethodSpec& find_method(std::string_view name) {
  std::string known;
  for (const MethodSpec* s : method_registry()) {
    if (s->name == name) return *s;
    known += (known.empty() ? "" : ", ") + std::string(s->name);
  }
  throw UsageError("unknown method '" + std::string(name) + "' (known: " + known + ")");
}

const MethodSpec& resolve_method(const MethodOptions& options) {
  const MethodSpec& named = find_method(options.method);
  if (options.mergekit_rules && !named.mergekit_variant.empty() && !options.params.given(named.own_key))
    return find_method(named.mergekit_variant);
  return named;
}

std::unique_ptr<MergeMethod> make_method(const MethodOptions& options, std::size_t models) {
  const MethodSpec& spec = resolve_method(options);
  MethodArgs args{&spec, validate_parameters(options.params, spec.parameters, spec.name, models, options.mergekit_rules)};
  return spec.make(args);
}

}  // namespace mpimerge
