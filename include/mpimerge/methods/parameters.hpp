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

struct ParameterCondition {
  std::optional<std::string> filter;   // absent: matches every tensor
  std::vector<ParameterScalar> value;  // one value, or several numbers: a gradient
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
};

// What a method declares about each parameter it takes.
enum class ParameterScope { global, per_model };
enum class ParameterType {
  number,          // any finite number
  integer,         // a non-negative integer (seeds)
  boolean,         // true / false
  choice,          // one of `choices`
  flag_or_choice,  // true / false or one of `choices` (rescale: true, false or l1)
};

struct ParameterDef {
  std::string_view name;
  ParameterScope scope = ParameterScope::global;
  ParameterType type = ParameterType::number;
  std::optional<ParameterScalar> default_value;  // none: required
  std::string_view help;
  std::vector<std::string_view> choices = {};
};

// Refuses parameters the method does not take, and per-model settings of global parameters, with
// a message that names them and lists what the method takes. Throws UsageError.
void check_parameters(const ParameterTable& table, std::span<const ParameterDef> defs, std::string_view method);

// The gradient position of every tensor, as mergekit gives it to the layers of a model: a tensor
// whose name holds a numeric component ("model.layers.7.mlp...", "h.7.attn") belongs to that
// layer; with L layers (one more than the largest index) layer i sits at i / (L - 1), or at 1 when
// L = 1. Tensors outside the layers (embeddings, final norm, head) sit at 0.
std::vector<double> gradient_positions(std::span<const std::string> tensor_names);

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
