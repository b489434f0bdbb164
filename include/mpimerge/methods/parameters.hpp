#pragma once
// Merge parameters as mergekit's YAML gives them, and the one question methods ask of them: "the
// value of parameter P for model m and tensor n".
//
// A setting is a scalar (`density: 0.5`), a gradient (`t: [0, 0.5, 1]`, interpolated over the
// layers) or a list of conditions (`- filter: self_attn` / `value: 0.3`, then `- value: 0.7`).
// mergekit's rules (mergekit/config.py, evaluate_setting and ConfigReader.parameter; and
// scripts/merge_raw_pytorch.py, construct_param_dicts):
//   - conditions are tried in order and the first whose filter is absent, "*", or a substring of
//     the tensor name gives the value; when none matches the setting gives nothing;
//   - a per-model parameter comes from the model's own `parameters`, else from the global
//     `parameters`, else from the method's default; a required one without a value is an error;
//   - a gradient [v0, ..., vk] at position t in [0, 1] is the piecewise-linear interpolation
//     between its values; t is the layer's index over (layers - 1) (see gradient_positions).
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mpimerge {

struct MergeShape;

struct ParameterScalar {
  enum class Kind { number, boolean, text };
  Kind kind = Kind::number;
  double number = 0;
  bool boolean = false;
  std::string text;  // the word, or a number as written (integers are read from it exactly)

  static ParameterScalar of_number(double value, std::string as_written = {});
  static ParameterScalar of_boolean(bool value);
  static ParameterScalar of_text(std::string word);
  std::string to_string() const;  // as a job file would write it
  bool operator==(const ParameterScalar&) const = default;
};

// A tensor name's layer: its first component that is a number ("model.layers.7.mlp.up_proj.weight",
// "transformer.h.7.attn"), where it lies in the name, and its value. Tensors without one are outside
// the layers: embeddings before them (names holding "embed", "wte" or "wpe"), norms and heads after.
struct LayerPart {
  std::uint64_t index = 0;
  std::size_t begin = 0, end = 0;  // the digits' place in the name
};
std::optional<LayerPart> layer_part(std::string_view tensor_name);
bool is_before_layers(std::string_view tensor_name);  // outside the layers, and an embedding

// The tensors one output slice of a job file's `slices:` makes (mergekit's OutputSliceDefinition):
// its output layers, and the weights before (first slice) or after (last slice) the layers.
struct TensorScope {
  std::uint64_t first_layer = 0, end_layer = 0;
  bool before_layers = false, after_layers = false;
  bool contains(std::string_view tensor_name) const;
};

struct ParameterCondition {
  std::optional<std::string> filter;   // absent: matches every tensor
  std::vector<ParameterScalar> value;  // one value, or several numbers: a gradient
  std::optional<TensorScope> scope = std::nullopt;  // a slice's own setting: only its tensors
};

struct ParameterSetting {
  std::vector<ParameterCondition> conditions;  // a plain value is one condition without filter

  static ParameterSetting scalar(ParameterScalar value);
  static ParameterSetting gradient(std::vector<double> values);
  // The value for a tensor at gradient position t in [0, 1]; nullopt when no condition matches.
  std::optional<ParameterScalar> evaluate(std::string_view tensor_name, double t) const;
  std::string to_string() const;  // compact, for logs and reports
};

// What the job gives: global settings, and each model's own.
class ParameterTable {
 public:
  void set_global(const std::string& name, ParameterSetting setting);
  void set_model(std::size_t model, const std::string& name, ParameterSetting setting);
  void erase_global(const std::string& name);
  void clear_models() { per_model_.clear(); }
  // Gradient positions by output layer, where slices give each its own (see gradient_positions).
  void set_layer_positions(std::vector<double> positions) { layer_positions_ = std::move(positions); }
  const std::vector<double>& layer_positions() const { return layer_positions_; }

  const std::map<std::string, ParameterSetting>& global() const { return global_; }
  // Models beyond the ones given settings have none.
  const std::map<std::string, ParameterSetting>& model(std::size_t model) const;
  std::size_t models_with_settings() const { return per_model_.size(); }
  // Given anywhere: globally or for any model.
  bool given(std::string_view name) const;

  // The model's setting when it gives a value for this tensor, else the global one's.
  std::optional<ParameterScalar> find(std::string_view name, std::optional<std::size_t> model,
                                      std::string_view tensor_name, double t) const;

 private:
  std::map<std::string, ParameterSetting> global_;
  std::vector<std::map<std::string, ParameterSetting>> per_model_;
  std::vector<double> layer_positions_;
};

// What a method declares about each parameter it takes (see method_spec.hpp): everything else --
// the command-line flags, job-file keys, sweep axes, validation, banner, report and sweep CSV --
// derives from these declarations.
enum class ParameterScope {
  merge,      // one plain value for the whole merge: no gradient, no filter, not per model
  global,     // one setting for every model, which may vary by tensor (gradient, filters)
  per_model,  // each model's own setting, else the global one
};
enum class ParameterType {
  number,          // a finite number within `range`
  integer,         // a non-negative integer (seeds)
  boolean,         // true / false
  choice,          // one of `choices`
  flag_or_choice,  // true / false or one of `choices` (rescale: true, false or l1)
  text,            // any value, kept as written (exclude: comma-separated tensor-name patterns)
};

// The values a number may take. With `percent`, values in (1, 100] are percentages, read as
// value / 100 (the TIES paper's code: `if K > 1: K /= 100`), and `max` applies after that.
struct NumberRange {
  double min = -HUGE_VAL, max = HUGE_VAL;
  bool min_open = false, max_open = false;
  bool percent = false;
  bool contains(double value) const;
  // The value as read (a percentage as a fraction), or nullopt when out of range or not finite.
  std::optional<double> read(double value) const;
  std::string describe() const;  // "a fraction in (0, 1] or a percentage in (1, 100]"
};

struct ParameterDef {
  std::string_view name = {};
  ParameterScope scope = ParameterScope::global;
  ParameterType type = ParameterType::number;
  std::optional<ParameterScalar> default_value = std::nullopt;  // none: required
  std::string_view help = {};
  std::vector<std::string_view> choices = {};
  NumberRange range = {};
  // A sweep grid may have it as an axis (given as one value for the whole merge).
  bool sweepable = false;
  // Values that change the merge, for help texts, docs and the tests generated over the registry.
  std::vector<std::string_view> examples = {};
  // Sweep point names: "<tag><value>" ("-d0.2"); unset: the parameter's name ("-gamma0.02").
  std::optional<std::string_view> tag = std::nullopt;
  // Accepted from mergekit's job files, where mergekit takes it, with no effect here (refused
  // from the command line and sweeps, and left out of the banner, report and CSV).
  bool inert = false;
  // A job file (mergekit's rules) must give it for every model, as mergekit requires; elsewhere
  // the default applies.
  bool required_in_job_files = false;
};

// The one check of a job's parameters, whichever way they came (command line, job file, sweep
// point), before anything is read. Refuses, naming the parameter, the model and what is expected:
// parameters the method does not take (listing those it takes), per-model settings of global
// ones, gradients or filters of one-value parameters, values of the wrong type or out of range,
// inert parameters outside job files, settings for more models than there are, and required
// parameters left out. Returns the table as methods read it: percentages as fractions.
ParameterTable validate_parameters(const ParameterTable& table, std::span<const ParameterDef> defs,
                                   std::string_view method, std::size_t models, bool mergekit_rules);

// A parameter as the merge uses it, for the banner, the report and the sweep CSV: every declared
// parameter but the inert ones, with its value given or its default.
struct UsedParameter {
  std::string name;
  std::string text;  // "0.2", "[0, 0.5, 1]" (a gradient), "{mlp: 0.3; otherwise: 0.5}", per model "[1, 0.7, 0.5]"
  std::optional<ParameterScalar> value;  // when one plain value holds for every tensor and model
};
std::vector<UsedParameter> used_parameters(const ParameterTable& validated, std::span<const ParameterDef> defs,
                                           std::size_t models);
// "density 0.2, lambda 1, trim_scope model"
std::string describe_parameters(const std::vector<UsedParameter>& used);

// The gradient position of every tensor, as mergekit gives it to the layers of a model: a tensor
// whose name holds a numeric component ("model.layers.7.mlp...", "h.7.attn") belongs to that
// layer; with L layers (one more than the largest index) layer i sits at i / (L - 1), or at 1 when
// L = 1. Tensors outside the layers (embeddings, final norm, head) sit at 0. A job file's slices
// give their layers their own positions (`layer_positions`, by layer index: mergekit's t runs over
// each slice's layers), which replace these where given.
std::vector<double> gradient_positions(std::span<const std::string> tensor_names,
                                       std::span<const double> layer_positions = {});

// The values a method reads, with its defaults and its types checked; errors name the parameter,
// the model and the tensor. Built in MergeMethod::start from the method's own declarations.
class ParameterView {
 public:
  ParameterView(const ParameterTable& table, std::span<const ParameterDef> defs, const MergeShape& shape,
                std::string_view method);

  double number(std::string_view name, std::size_t tensor, std::optional<std::size_t> model = {}) const;
  std::uint64_t integer(std::string_view name, std::size_t tensor, std::optional<std::size_t> model = {}) const;
  bool flag(std::string_view name, std::size_t tensor, std::optional<std::size_t> model = {}) const;
  // A choice's word; for flag_or_choice parameters "true" or "false" when given as a boolean.
  std::string word(std::string_view name, std::size_t tensor, std::optional<std::size_t> model = {}) const;
  bool given(std::string_view name) const { return table_.given(name); }

  // A parameter that must be the same for every tensor (and model), e.g. TIES's trim scope or the
  // density of model-wide trimming: its value, or an error naming two tensors that differ.
  double uniform_number(std::string_view name, std::optional<std::size_t> model = {}) const;
  std::string uniform_word(std::string_view name) const;

  std::string describe(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const;
  const MergeShape& shape() const { return shape_; }
  const std::string& method() const { return method_; }

 private:
  const ParameterDef& def(std::string_view name) const;
  ParameterScalar value(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const;

  const ParameterTable& table_;
  std::span<const ParameterDef> defs_;
  const MergeShape& shape_;
  std::string method_;
  std::vector<double> positions_;
};

}  // namespace mpimerge
