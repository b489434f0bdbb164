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

// mergekit adds a base_model missing from the models as one more input, last, and its linear
// averages every input: the base's weight is the global one (plan.py normalize_config,
// ConfigReader.parameter). Without a global weight mergekit fails on a weight of None.
TEST(JobFile, LinearAveragesInABaseThatIsNotAmongTheModels) {
  const MergeJob job = job::merge_job_from(job::parse_job_file(
      "merge_method: linear\nbase_model: b.h5\nmodels:\n  - model: x.h5\n    parameters: {weight: 0.25}\n"
      "  - model: y.h5\nparameters: {weight: 0.5}\n",
      "job.yaml"));
  EXPECT_EQ(job.models, (std::vector<std::string>{"x.h5", "y.h5", "b.h5"}));
  EXPECT_FALSE(job.base.has_value());
  EXPECT_EQ(job.model_files_from.value_or(""), "b.h5");  // mergekit's donor of config and tokenizer
  EXPECT_EQ(job.method.params.find("weight", 0, "t", 0)->number, 0.25);
  EXPECT_EQ(job.method.params.find("weight", 1, "t", 0)->number, 0.5);
  EXPECT_EQ(job.method.params.find("weight", 2, "t", 0)->number, 0.5);
  try {
    job::merge_job_from(job::parse_job_file(
        "merge_method: linear\nbase_model: b.h5\nmodels:\n  - model: x.h5\n    parameters: {weight: 1}\n", "job.yaml"));
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "linear: base_model 'b.h5' is not among the models, so mergekit averages it in as one more model with the "
              "global weight, and the job file gives none (add parameters: {weight: W}, or list the base under models "
              "with its weight)");
  }
  // Listed among the models, the base is an ordinary model with its own weight, as before.
  const MergeJob listed = job::merge_job_from(job::parse_job_file(
      "merge_method: linear\nbase_model: b.h5\nmodels:\n  - model: b.h5\n    parameters: {weight: 2}\n"
      "  - model: x.h5\n    parameters: {weight: 1}\n",
      "job.yaml"));
  EXPECT_EQ(listed.models, (std::vector<std::string>{"b.h5", "x.h5"}));
  EXPECT_FALSE(listed.model_files_from.has_value());
}

// mergekit's dtype is the compute dtype; mpimerge computes 16-bit dtypes in float32 and says so.
TEST(JobFile, SixteenBitComputeDtypeIsANoteAndTheDefaultOutDtype) {
  const auto job_with = [](const std::string& dtype) {
    return job::merge_job_from(
        job::parse_job_file("merge_method: linear\nmodels: [{model: a.h5}]\ndtype: " + dtype + "\n", "job.yaml"));
  };
  const MergeJob bf16 = job_with("bfloat16");
  EXPECT_FALSE(bf16.compute_in_float64);
  EXPECT_EQ(bf16.out_dtype, DType::bf16);
  EXPECT_EQ(bf16.notes, (std::vector<std::string>{
                            "dtype bfloat16: mergekit computes in bfloat16, rounding after every operation as torch's "
                            "kernels do on its device; mpimerge computes in float32 and rounds once, to bfloat16 (the "
                            "default out_dtype)"}));
  EXPECT_EQ(job_with("float16").notes.size(), 1u);
  EXPECT_TRUE(job_with("float32").notes.empty());
  EXPECT_TRUE(job_with("float64").compute_in_float64);
}

// mergekit-moe's configurations are another program's: one line naming it, and for the gate modes
// that need a forward pass, why.
TEST(JobFile, RefusesMergekitMoeConfigsNamingMergekitMoe) {
  const std::string experts = "base_model: b\nexperts:\n  - source_model: x\n    positive_prompts: [\"math\"]\n";
  EXPECT_EQ(refusal("gate_mode: random\n" + experts),
            "job.yaml:4:3: a mergekit-moe config (gate_mode random): mpimerge does not build mixture-of-experts models "
            "(experts behind a new router, a new architecture); use mergekit-moe");
  EXPECT_NE(refusal("gate_mode: uniform_random\n" + experts).find("(gate_mode uniform_random): mpimerge does not build"),
            std::string::npos);
  for (const std::string mode : {"hidden", "cheap_embed"})
    EXPECT_NE(refusal("gate_mode: " + mode + "\n" + experts)
                  .find("gate_mode " + mode + " computes each router from the hidden states of the experts' prompts, a "
                        "forward pass through the model that a parameter-level merge does not have; use mergekit-moe"),
              std::string::npos)
        << mode;
  // mergekit-moe's default gate mode is hidden.
  EXPECT_NE(refusal(experts).find("(gate_mode hidden)"), std::string::npos);
}

}  // namespace
}  // namespace mpimerge
