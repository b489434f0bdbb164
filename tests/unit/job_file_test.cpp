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

// mergekit's tokenizer block: source defaults to union; tokens in the file's order, each with its
// source (a model, zero, or a model's token by id or text) and force.
TEST(JobFile, ReadsTheTokenizerBlock) {
  const MergeJob job = job::merge_job_from(job::parse_job_file(R"(
merge_method: linear
models: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]
tokenizer:
  pad_to_multiple_of: 64
  tokens:
    "<|im_start|>": {source: b}
    "<|im_end|>":
      source: {kind: zero}
      force: true
    "<tool>": {source: {kind: model_token, model: a, token_id: 7}}
    "<sep>": {source: {kind: model_token, model: b, token: "</s>"}}
)",
                                                               "job.yaml"));
  EXPECT_EQ(job.tokenizer.source, "union");
  EXPECT_EQ(job.tokenizer.pad_to_multiple_of, 64u);
  ASSERT_EQ(job.tokenizer.tokens.size(), 4u);
  EXPECT_EQ(job.tokenizer.tokens[0].first, "<|im_start|>");
  EXPECT_EQ(job.tokenizer.tokens[0].second.kind, TokenRowSource::Kind::model);
  EXPECT_EQ(job.tokenizer.tokens[0].second.model, "b");
  EXPECT_EQ(job.tokenizer.tokens[1].second.kind, TokenRowSource::Kind::zero);
  EXPECT_TRUE(job.tokenizer.tokens[1].second.force);
  EXPECT_EQ(job.tokenizer.tokens[2].second.kind, TokenRowSource::Kind::model_token);
  EXPECT_EQ(job.tokenizer.tokens[2].second.token_id, 7u);
  EXPECT_EQ(job.tokenizer.tokens[3].second.token, "</s>");
  EXPECT_FALSE(job.tokenizer.tokens[3].second.token_id);
}

TEST(JobFile, RefusesWhatAParameterLevelMergeCannotDo) {
  EXPECT_NE(refusal("merge_method: passthrough\nslices: []\n").find("slices must be a non-empty list"), std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\nmodels:\n  - model: a.h5\n    layer_range: [0, 4]\n")
                .find("layer_range belongs to a slice's source"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\ntokenizer: {tokens: {'<x>': {force: true}}}\nmodels: [{model: a}]\n")
                .find("tokenizer tokens '<x>' has no source"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\ntokenizer: {tokens: {'<x>': {source: {kind: model_token, model: a}}}}\n"
                    "models: [{model: a}]\n")
                .find("needs token_id or token, one of them"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\ntokenizer: {tokens: {'<x>': {source: {kind: mean}}}}\nmodels: [{model: a}]\n")
                .find("source kind 'mean' is unknown"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\ntokenizer_source: base\ntokenizer: {source: base}\nmodels: [{model: a}]\n")
                .find("give tokenizer_source or tokenizer, not both"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\nmodules: {}\nmodels: [{model: a}]\n").find("modules are not supported"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: linear\nmodels: [{model: a}]\nfrobs: 1\n").find("unknown key 'frobs'"),
            std::string::npos);
  EXPECT_NE(refusal("merge_method: [\n").find("not valid YAML"), std::string::npos);
}

// mergekit's slices: one input per source position, the base's source first; parameters by
// mergekit's precedence (the source's, the slice's, the global ones), each slice's for its own
// tensors (its layers; slice 1 also the embeddings, the last slice the norm and head); a
// gradient over each slice's own layers.
TEST(JobFile, SlicesAreInputsWithEachSlicesParameters) {
  const MergeJob job = job::merge_job_from(job::parse_job_file(R"(
slices:
  - sources:
      - {model: a, layer_range: [0, 2], parameters: {weight: [1, 3]}}
      - {model: b, layer_range: [2, 4]}
    parameters: {weight: 0.5}
  - sources:
      - {model: a, layer_range: [2, 4]}
      - model: b
        layer_range: [0, 2]
        parameters:
          weight: [{filter: mlp, value: 2}]
merge_method: linear
parameters: {weight: 1}
)",
                                                               "job.yaml"));
  ASSERT_EQ(job.slices.size(), 2u);
  ASSERT_EQ(job.slices[1].size(), 2u);
  EXPECT_EQ(job.slices[1][1].path, "b");
  EXPECT_EQ(job.slices[1][1].first_layer, 0u);
  EXPECT_EQ(job.slices[1][1].end_layer, 2u);
  EXPECT_FALSE(job.base);
  EXPECT_EQ(job.models, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(job.method.params.layer_positions(), (std::vector<double>{0, 1, 0, 1}));
  const ParameterTable& p = job.method.params;
  EXPECT_EQ(p.find("weight", 0, "model.layers.1.mlp.up.weight", 1.0)->number, 3.0);   // source a, slice 1
  EXPECT_EQ(p.find("weight", 0, "model.layers.0.mlp.up.weight", 0.0)->number, 1.0);
  EXPECT_EQ(p.find("weight", 0, "model.layers.2.mlp.up.weight", 0.0)->number, 1.0);   // global
  EXPECT_EQ(p.find("weight", 1, "model.layers.0.mlp.up.weight", 0.0)->number, 0.5);   // slice 1's
  EXPECT_EQ(p.find("weight", 1, "model.embed_tokens.weight", 0.0)->number, 0.5);      // before the layers: slice 1
  EXPECT_EQ(p.find("weight", 1, "model.layers.3.mlp.up.weight", 1.0)->number, 2.0);   // source b, slice 2, mlp
  EXPECT_EQ(p.find("weight", 1, "model.layers.3.self_attn.q.weight", 1.0)->number, 1.0);  // no filter matches
  EXPECT_EQ(p.find("weight", 1, "lm_head.weight", 0.0)->number, 1.0);                 // after: slice 2, global
  EXPECT_EQ(gradient_positions(std::vector<std::string>{"model.layers.3.x", "model.norm.weight", "model.layers.2.x"},
                               p.layer_positions()),
            (std::vector<double>{1.0, 0.0, 0.0}));
}

TEST(JobFile, SlicesTakeTheBaseFromTheirSources) {
  const MergeJob job = job::merge_job_from(job::parse_job_file(
      "merge_method: slerp\nbase_model: b\nparameters: {t: 0.3}\n"
      "slices:\n  - sources: [{model: a, layer_range: [0, 4]}, {model: b, layer_range: [0, 4]}]\n",
      "job.yaml"));
  ASSERT_EQ(job.slices.size(), 1u);
  EXPECT_EQ(*job.base, "b");
  EXPECT_EQ(job.models, std::vector<std::string>{"a"});
  EXPECT_EQ(job.slices[0][0].path, "b");  // the base's source is input 0
  // One slice: its settings hold everywhere, with the gradient of a whole model.
  EXPECT_EQ(job.method.params.layer_positions(), (std::vector<double>{0, 1.0 / 3, 2.0 / 3, 1}));

  auto refused = [](const std::string& text) -> std::string {
    try {
      job::merge_job_from(job::parse_job_file(text, "job.yaml"));
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(refused("merge_method: slerp\nbase_model: c\nparameters: {t: 0.3}\n"
                    "slices:\n  - sources: [{model: a, layer_range: [0, 4]}, {model: b, layer_range: [0, 4]}]\n")
                .find("slice 1: slerp needs a base, and its base_model 'c' is not among its sources"),
            std::string::npos);
  EXPECT_NE(refused("merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}, {model: b, layer_range: [0, 2]}]\n"
                    "  - sources: [{model: a, layer_range: [2, 4]}]\n")
                .find("slice 2 has 1 sources but slice 1 has 2"),
            std::string::npos);
  EXPECT_NE(refused("merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}, {model: b, layer_range: [0, 3]}]\n")
                .find("source 2 has 3 layers but source 1 has 2"),
            std::string::npos);
  EXPECT_NE(refused("merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [2, 2]}]\n")
                .find("layer_range [2, 2] holds no layer"),
            std::string::npos);
  EXPECT_NE(refused("merge_method: passthrough\nslices:\n  - sources: [{model: a}]\n").find("has no layer_range"),
            std::string::npos);
  EXPECT_NE(refused("merge_method: passthrough\nmodels: [{model: a}]\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n")
                .find("either models or slices"),
            std::string::npos);
  EXPECT_NE(refused("merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}, {model: a, layer_range: [2, 4]}]\n")
                .find("lists 'a' twice"),
            std::string::npos);
}

// Tokenizer keys: the source, padding and chat template as mergekit reads them; a template is
// a name we know, auto, or Jinja text.
TEST(JobFile, ReadsTokenizerKeysAndChatTemplates) {
  const MergeJob a = job::merge_job_from(job::parse_job_file(
      "merge_method: linear\nmodels: [{model: a}]\ntokenizer: {source: union, pad_to_multiple_of: 64}\nchat_template: chatml\n",
      "job.yaml"));
  EXPECT_EQ(a.tokenizer.source, "union");
  EXPECT_EQ(a.tokenizer.pad_to_multiple_of, 64u);
  EXPECT_EQ(a.chat_template,
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
            "'\\n'}}{% endfor %}\n{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}\n");
  const MergeJob b = job::merge_job_from(job::parse_job_file(
      "merge_method: linear\nmodels: [{model: a}]\ntokenizer_source: b\nchat_template: \"{{ messages[0]['content'] }} x\"\n",
      "job.yaml"));
  EXPECT_EQ(b.tokenizer.source, "b");
  EXPECT_EQ(b.chat_template, "{{ messages[0]['content'] }} x");
  EXPECT_EQ(job::chat_template_text("auto"), "auto");
  EXPECT_THROW(job::chat_template_text("llama3"), UsageError);   // mergekit's own file
  EXPECT_THROW(job::chat_template_text("vicuna"), UsageError);   // neither a name nor a template
  EXPECT_THROW(job::chat_template_text("{short}"), UsageError);  // under 20 characters, as mergekit
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
