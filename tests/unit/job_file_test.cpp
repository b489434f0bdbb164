// Job files: mergekit's YAML subset, our own keys, and the refusals.
#include <gtest/gtest.h>

#include "mpimerge/error.hpp"
#include "mpimerge/job/job_file.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/methods/ties.hpp"

namespace mpimerge {
namespace {

std::string refusal(const std::string& text) {
  try {
    job::parse_job_file(text, "job.yaml");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(JobFile, ReadsMergekitsSubsetWithPerModelParameters) {
  const auto file = job::parse_job_file(R"(
merge_method: ties
base_model: base.h5
models:
  - model: base.h5
  - model: math.h5
    parameters: {weight: 1.0, density: 0.5}
  - model: code.h5
    parameters:
      weight: 0.7
      density: [{filter: mlp, value: 0.3}, {value: 0.5}]
parameters: {normalize: true, lambda: 1.0}
dtype: float64
out_dtype: bfloat16
)",
                                        "job.yaml");
  const MergeJob job = job::merge_job_from(file);
  EXPECT_EQ(job.method.method, "ties");
  EXPECT_TRUE(job.method.mergekit_rules);
  ASSERT_EQ(job.models.size(), 2u);  // the base listed among the models is the base
  EXPECT_EQ(*job.base, "base.h5");
  EXPECT_EQ(job.method.params.find("density", 1, "layers.0.mlp.up", 0)->number, 0.3);
  EXPECT_EQ(job.method.params.find("density", 1, "layers.0.attn", 0)->number, 0.5);
  EXPECT_EQ(job.method.params.find("weight", 0, "x", 0)->number, 1.0);
  EXPECT_TRUE(job.compute_in_float64);
  EXPECT_EQ(job.out_dtype, DType::bf16);
  EXPECT_EQ(make_method(job.method, 2)->name(), "ties_mergekit");  // mergekit's: no trim_scope
}

TEST(JobFile, RefusesWhatAParameterLevelMergeCannotDo) {
  EXPECT_NE(refusal("merge_method: passthrough\nslices: []\n").find("slices are not supported"), std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\nmodels:\n  - model: a.h5\n    layer_range: [0, 4]\n").find("layer_range is not supported"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\ntokenizer_source: base\nmodels: [{model: a}]\n").find("tokenizer"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\nmodels: [{model: a}]\nfrobs: 1\n").find("unknown key 'frobs'"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: [\n").find("not valid YAML"), std::string::npos);
}

TEST(JobFile, TrimScopeSelectsThePapersTies) {
  const MergeJob job = job::merge_job_from(job::parse_job_file(
      "merge_method: ties\nbase_model: b\nmodels: [{model: a}, {model: c}]\n"
      "parameters: {trim_scope: tensor, density: 20, lambda: 0.5, disjoint_merge: max}\n",
      "job.yaml"));
  const MethodSpec& spec = resolve_method(job.method);
  EXPECT_EQ(spec.name, "ties");
  const ParameterTable used = validate_parameters(job.method.params, spec.parameters, spec.name, 2, true);
  EXPECT_EQ(describe_parameters(used_parameters(used, spec.parameters, 2)),
            "density 0.2, lambda 0.5, trim_scope tensor, disjoint_merge max");
  EXPECT_NO_THROW(make_method(job.method, 2));
  MethodOptions weighted = job.method;  // the paper's TIES takes no weights
  weighted.set_model(0, "weight", 0.5);
  EXPECT_THROW(make_method(weighted, 2), UsageError);
}

// mergekit lists the base among the models; whether it is then the base or one more input is the
// method's: nuslerp and multislerp measure task vectors from it (easy_define and NuSlerpTask take
// it out of the models), karcher averages it with the others (as linear does).
TEST(JobFile, ABaseListedAmongTheModelsIsTheBaseWhereTheMethodMeasuresFromIt) {
  auto job_for = [](const std::string& method) {
    return job::merge_job_from(job::parse_job_file("merge_method: " + method +
                                                       "\nbase_model: b.h5\nmodels:\n  - model: b.h5\n"
                                                       "  - model: x.h5\n    parameters: {weight: 1}\n"
                                                       "  - model: y.h5\n    parameters: {weight: 2}\n",
                                                   "job.yaml"));
  };
  for (const std::string method : {"nuslerp", "multislerp", "sce"}) {
    const MergeJob job = job_for(method);
    EXPECT_EQ(job.models, (std::vector<std::string>{"x.h5", "y.h5"})) << method;
    EXPECT_EQ(job.base.value_or(""), "b.h5") << method;
    EXPECT_EQ(job.method.params.find("weight", 1, "t", 0)->number, 2.0) << method;
  }
  const MergeJob karcher = job_for("karcher");
  EXPECT_EQ(karcher.models, (std::vector<std::string>{"b.h5", "x.h5", "y.h5"}));
  EXPECT_FALSE(karcher.base.has_value());
}

}  // namespace
}  // namespace mpimerge
