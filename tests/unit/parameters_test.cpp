// The one parameter model: declarations (ParameterDef), the one validation of a job's table
// (validate_parameters), and what the banner, report and CSV print (used_parameters).
#include "mpimerge/methods/parameters.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "mpimerge/error.hpp"
#include "mpimerge/job/job_file.hpp"
#include "mpimerge/methods/registry.hpp"

namespace mpimerge {
namespace {

const NumberRange kDensity{.min = 0, .max = 1, .min_open = true, .percent = true};

TEST(NumberRange, FractionsAndPercentagesAsThePapersCode) {
  EXPECT_EQ(kDensity.read(0.2), 0.2);
  EXPECT_EQ(kDensity.read(1.0), 1.0);
  EXPECT_EQ(kDensity.read(20), 0.2);
  EXPECT_EQ(kDensity.read(100), 1.0);
  EXPECT_EQ(kDensity.read(1.5), 0.015);
  for (double bad : {0.0, -0.1, 100.5, std::nan(""), HUGE_VAL}) EXPECT_FALSE(kDensity.read(bad)) << bad;
  EXPECT_EQ(kDensity.describe(), "a fraction in (0, 1] or a percentage in (1, 100]");
  const NumberRange any;
  EXPECT_TRUE(any.read(-1e300));
  EXPECT_FALSE(any.read(HUGE_VAL));
  EXPECT_EQ(any.describe(), "a finite number");
  EXPECT_EQ((NumberRange{.min = 0}).describe(), "a finite number >= 0");
}

// A declaration with one parameter of each scope, as a method file writes it.
const std::vector<ParameterDef> kDefs{
    {.name = "density",
     .scope = ParameterScope::merge,
     .default_value = ParameterScalar::of_number(0.2),
     .range = kDensity},
    {.name = "weight",
     .scope = ParameterScope::per_model,
     .default_value = ParameterScalar::of_number(1.0),
     .range = {.min = 0},
     .required_in_job_files = true},
    {.name = "mode", .type = ParameterType::choice, .default_value = ParameterScalar::of_text("a"), .choices = {"a", "b"}},
    {.name = "scale", .default_value = ParameterScalar::of_number(1.0)},
    {.name = "t"},  // required
    {.name = "int8_mask", .type = ParameterType::boolean, .default_value = ParameterScalar::of_boolean(false), .inert = true},
};

ParameterSetting number(double v) { return ParameterSetting::scalar(ParameterScalar::of_number(v)); }

ParameterTable table_with_t() {
  ParameterTable table;
  table.set_global("t", number(0.5));
  return table;
}

std::string refusal(const ParameterTable& table, std::size_t models = 2, bool mergekit_rules = false) {
  try {
    validate_parameters(table, kDefs, "m", models, mergekit_rules);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ValidateParameters, PercentagesBecomeFractionsAndNumbersAreWrittenOneWay) {
  ParameterTable table = table_with_t();
  table.set_global("density", number(20));
  table.set_global("scale", ParameterSetting::scalar(ParameterScalar::of_number(0.50, "0.50")));
  const ParameterTable v = validate_parameters(table, kDefs, "m", 2, false);
  EXPECT_EQ(v.global().at("density").to_string(), "0.2");
  EXPECT_EQ(v.global().at("scale").to_string(), "0.5");  // as every other way in writes it
}

TEST(ValidateParameters, RefusesEachWrongThingByName) {
  ParameterTable unknown = table_with_t();
  unknown.set_global("gamma", number(0.1));
  EXPECT_EQ(refusal(unknown), "m takes no parameter 'gamma' (given for the merge; it takes: density, weight, mode, scale, t, int8_mask)");

  ParameterTable out_of_range = table_with_t();
  out_of_range.set_global("density", number(0));
  EXPECT_EQ(refusal(out_of_range),
            "m: parameter 'density' (global) must be a fraction in (0, 1] or a percentage in (1, 100], not '0'");

  ParameterTable negative = table_with_t();
  negative.set_model(1, "weight", number(-0.5));
  EXPECT_EQ(refusal(negative), "m: parameter 'weight' (model 2) must be a finite number >= 0, not '-0.5'");

  ParameterTable per_model_global = table_with_t();
  per_model_global.set_model(0, "scale", number(2));
  EXPECT_EQ(refusal(per_model_global),
            "m: 'scale' is one value for the whole merge, not per model (given for model 1): set it under the top-level "
            "parameters");

  ParameterTable gradient_of_one_value = table_with_t();
  gradient_of_one_value.set_global("density", ParameterSetting::gradient({0.1, 0.5}));
  EXPECT_EQ(refusal(gradient_of_one_value),
            "m: parameter 'density' (global) is one value for the whole merge, not a list, a gradient or a set of filters");

  ParameterTable bad_choice = table_with_t();
  bad_choice.set_global("mode", ParameterSetting::scalar(ParameterScalar::of_text("c")));
  EXPECT_EQ(refusal(bad_choice), "m: parameter 'mode' (global) must be one of a, b, not 'c'");

  ParameterTable too_many_models = table_with_t();
  too_many_models.set_model(2, "weight", number(1));
  EXPECT_EQ(refusal(too_many_models), "m: parameter 'weight' is given for model 3, but the merge has 2 models");

  EXPECT_EQ(refusal(ParameterTable{}), "m: parameter 't' is required but not given");
}

TEST(ValidateParameters, InertParametersOnlyFromJobFiles) {
  ParameterTable table = table_with_t();
  table.set_global("weight", number(1));
  table.set_global("int8_mask", ParameterSetting::scalar(ParameterScalar::of_boolean(true)));
  EXPECT_EQ(refusal(table, 2, false),
            "m: parameter 'int8_mask' has no effect here (given for the merge); it is accepted only from mergekit's job "
            "files, where mergekit takes it");
  EXPECT_EQ(refusal(table, 2, true), "");
}

TEST(ValidateParameters, JobFilesMustGiveWhatMergekitRequires) {
  ParameterTable table = table_with_t();
  table.set_model(0, "weight", number(1));
  EXPECT_EQ(refusal(table, 2, false), "");  // the command line: the default holds
  EXPECT_EQ(refusal(table, 2, true),
            "m: parameter 'weight' is required for model 2 but not given: set it in the model's parameters or in the "
            "global parameters");
  table.set_global("weight", number(0.5));
  EXPECT_EQ(refusal(table, 2, true), "");
}

TEST(UsedParameters, EveryDeclaredParameterButTheInertOnesWithTheValueUsed) {
  ParameterTable table = table_with_t();
  table.set_model(1, "weight", number(0.5));
  table.set_global("scale", ParameterSetting::gradient({0, 1}));
  const auto used = used_parameters(validate_parameters(table, kDefs, "m", 2, false), kDefs, 2);
  EXPECT_EQ(describe_parameters(used), "density 0.2, weight [1, 0.5], mode a, scale [0, 1], t 0.5");
  ASSERT_EQ(used.size(), 5u);
  EXPECT_EQ(used[0].value, ParameterScalar::of_number(0.2));  // one value: typed, for the report
  EXPECT_FALSE(used[1].value);                                // per model: text only
  EXPECT_FALSE(used[3].value);                                // a gradient: text only
}

TEST(UsedParameters, OneValueForEveryModelIsPrintedOnce) {
  ParameterTable table = table_with_t();
  table.set_model(0, "weight", number(2));
  table.set_model(1, "weight", number(2));
  EXPECT_EQ(describe_parameters(used_parameters(validate_parameters(table, kDefs, "m", 2, false), kDefs, 2)),
            "density 0.2, weight 2, mode a, scale 1, t 0.5");
}

// Every declaration of the registry is consistent: defaults in range and of their type, examples
// valid values, tags only on sweepable parameters, choices listed for choice types.
TEST(Registry, EveryDeclarationIsConsistent) {
  for (const MethodSpec* spec : method_registry()) {
    ASSERT_TRUE(spec->make) << spec->name;
    for (const ParameterDef& def : spec->parameters) {
      const std::string what = std::string(spec->name) + "." + std::string(def.name);
      ParameterTable defaults;
      if (def.default_value) defaults.set_global(std::string(def.name), ParameterSetting::scalar(*def.default_value));
      if (def.default_value && !def.inert) {
        EXPECT_NO_THROW(validate_parameters(defaults, std::span(&def, 1), spec->name, 2, false)) << what;
      }
      if (def.sweepable) {
        EXPECT_GE(def.examples.size(), 2u) << what << ": a sweepable parameter names two values";
      }
      for (std::string_view example : def.examples) {
        ParameterTable given;
        given.set_global(std::string(def.name), ParameterSetting::scalar(job::parse_scalar(std::string(example))));
        EXPECT_NO_THROW(validate_parameters(given, std::span(&def, 1), spec->name, 2, false)) << what << " " << example;
      }
      EXPECT_FALSE(def.sweepable && def.inert) << what;
      if (def.type == ParameterType::choice) {
        EXPECT_FALSE(def.choices.empty()) << what;
      }
    }
  }
}

// What the banner, the report and sweep.csv list for each family of methods at their defaults:
// exactly the parameters each uses (no density for task arithmetic, no weights for the paper's
// TIES, no int8_mask anywhere), with the values it uses.
TEST(UsedParameters, EachFamilyListsExactlyItsOwn) {
  const std::map<std::string, std::string> expected{
      {"ties", "density 0.2, lambda 1, trim_scope model, disjoint_merge mean"},
      {"ties_mergekit", "weight 1, density 1, normalize true, lambda 1, rescale false, consensus sum"},
      {"task_arithmetic", "weight 1, normalize false, lambda 1"},
      {"dare_ties", "weight 1, density 1, normalize false, lambda 1, rescale true, seed 0, consensus sum"},
      {"breadcrumbs", "weight 1, density 1, normalize false, lambda 1, rescale false, gamma 0.01"},
      {"della_linear", "weight 1, density 1, normalize false, lambda 1, rescale true, epsilon 0.15, seed 0"},
      {"linear", "weight 1, normalize true"},
      {"average", "weight 1, normalize true"},
      {"slerp", "t 0.5"},
      {"model_stock", "filter_wise false"},
      {"fisher", "weight 1, fisher_floor 1e-06, favor_target_model true, normalize_fisher true"},
      {"regmean", "weight 1, alpha 1"},
  };
  for (const auto& [name, text] : expected) {
    const MethodSpec& spec = find_method(name);
    ParameterTable given;
    if (name == "slerp") given.set_global("t", number(0.5));  // required
    EXPECT_EQ(describe_parameters(used_parameters(validate_parameters(given, spec.parameters, name, 3, false),
                                                  spec.parameters, 3)),
              text)
        << name;
  }
}

TEST(Registry, JobFilesNamingTiesGetMergekitsUnlessTheyGiveTrimScope) {
  MethodOptions options;
  options.mergekit_rules = true;
  EXPECT_EQ(resolve_method(options).name, "ties_mergekit");
  options.set("trim_scope", "model");
  EXPECT_EQ(resolve_method(options).name, "ties");
  options.mergekit_rules = false;
  options.params = {};
  EXPECT_EQ(resolve_method(options).name, "ties");
  options.method = "nope";
  EXPECT_THROW(resolve_method(options), UsageError);
}

}  // namespace
}  // namespace mpimerge
