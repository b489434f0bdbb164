#include "mpimerge/methods/parameters.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

const std::map<std::string, ParameterSetting> kNoSettings;

std::string model_label(std::optional<std::size_t> model) {
  return model ? "model " + std::to_string(*model + 1) : std::string("the merge");
}

std::string type_name(const ParameterDef& def) {
  std::string words;
  for (auto c : def.choices) words += (words.empty() ? "" : ", ") + std::string(c);
  switch (def.type) {
    case ParameterType::number: return def.range.describe();
    case ParameterType::integer: return "a non-negative integer";
    case ParameterType::boolean: return "true or false";
    case ParameterType::choice: return "one of " + words;
    case ParameterType::flag_or_choice: return "true, false or one of " + words;
    case ParameterType::text: return "a text";
  }
  return "?";
}

bool is_choice(const ParameterDef& def, const std::string& word) {
  return std::find(def.choices.begin(), def.choices.end(), word) != def.choices.end();
}

std::optional<std::uint64_t> as_integer(const ParameterScalar& s) {
  if (s.kind != ParameterScalar::Kind::number) return std::nullopt;
  if (!s.text.empty()) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.text.data(), s.text.data() + s.text.size(), v);
    if (ec == std::errc() && end == s.text.data() + s.text.size()) return v;
  }
  if (s.number >= 0 && s.number < 0x1p53 && s.number == std::floor(s.number))
    return static_cast<std::uint64_t>(s.number);
  return std::nullopt;
}

bool fits(const ParameterDef& def, const ParameterScalar& s) {
  using K = ParameterScalar::Kind;
  switch (def.type) {
    case ParameterType::number: return s.kind == K::number && std::isfinite(s.number);
    case ParameterType::integer: return as_integer(s).has_value();
    case ParameterType::boolean: return s.kind == K::boolean;
    case ParameterType::choice: return s.kind == K::text && is_choice(def, s.text);
    case ParameterType::flag_or_choice: return s.kind == K::boolean || (s.kind == K::text && is_choice(def, s.text));
    case ParameterType::text: return true;
  }
  return false;
}

const ParameterDef* find_def(std::span<const ParameterDef> defs, std::string_view name) {
  for (const auto& d : defs)
    if (d.name == name) return &d;
  return nullptr;
}

std::string known_names(std::span<const ParameterDef> defs) {
  std::string text;
  for (const auto& d : defs) text += (text.empty() ? "" : ", ") + std::string(d.name);
  return text.empty() ? "none" : text;
}

}  // namespace

ParameterScalar ParameterScalar::of_number(double value, std::string as_written) {
  ParameterScalar s;
  s.kind = Kind::number;
  s.number = value;
  s.text = std::move(as_written);
  return s;
}

ParameterScalar ParameterScalar::of_boolean(bool value) {
  ParameterScalar s;
  s.kind = Kind::boolean;
  s.boolean = value;
  return s;
}

ParameterScalar ParameterScalar::of_text(std::string word) {
  ParameterScalar s;
  s.kind = Kind::text;
  s.text = std::move(word);
  return s;
}

std::string ParameterScalar::to_string() const {
  switch (kind) {
    case Kind::number: return text.empty() ? format_number(number) : text;
    case Kind::boolean: return boolean ? "true" : "false";
    case Kind::text: return text;
  }
  return "?";
}

ParameterSetting ParameterSetting::scalar(ParameterScalar value) {
  ParameterSetting s;
  s.conditions.push_back({std::nullopt, {std::move(value)}});
  return s;
}

ParameterSetting ParameterSetting::gradient(std::vector<double> values) {
  ParameterSetting s;
  ParameterCondition c;
  for (double v : values) c.value.push_back(ParameterScalar::of_number(v));
  s.conditions.push_back(std::move(c));
  return s;
}

std::optional<ParameterScalar> ParameterSetting::evaluate(std::string_view tensor_name, double t) const {
  for (const auto& c : conditions) {
    if (c.scope && !c.scope->contains(tensor_name)) continue;
    const bool matches = !c.filter || *c.filter == "*" || tensor_name.find(*c.filter) != std::string_view::npos;
    if (!matches) continue;
    if (c.value.size() == 1) return c.value[0];
    if (c.value.empty()) return std::nullopt;
    // mergekit's evaluate_setting: piecewise-linear between the two values around t * (n - 1).
    const double scaled = t * static_cast<double>(c.value.size() - 1);
    const auto i0 = static_cast<std::size_t>(scaled);
    const std::size_t i1 = std::min(c.value.size() - 1, i0 + 1);
    const double frac = scaled - static_cast<double>(i0);
    return ParameterScalar::of_number((1 - frac) * c.value[i0].number + frac * c.value[i1].number);
  }
  return std::nullopt;
}

std::string ParameterSetting::to_string() const {
  auto values = [](const ParameterCondition& c) {
    if (c.value.size() == 1) return c.value[0].to_string();
    std::string text = "[";
    for (std::size_t i = 0; i < c.value.size(); ++i) text += (i ? ", " : "") + c.value[i].to_string();
    return text + "]";
  };
  if (conditions.size() == 1 && !conditions[0].filter) return values(conditions[0]);
  std::string text;
  for (const auto& c : conditions)
    text += (text.empty() ? "" : "; ") + (c.filter ? *c.filter + ": " : std::string("otherwise: ")) + values(c);
  return "{" + text + "}";
}

void ParameterTable::set_global(const std::string& name, ParameterSetting setting) {
  global_[name] = std::move(setting);
}

void ParameterTable::set_model(std::size_t model, const std::string& name, ParameterSetting setting) {
  if (per_model_.size() <= model) per_model_.resize(model + 1);
  per_model_[model][name] = std::move(setting);
}

void ParameterTable::erase_global(const std::string& name) { global_.erase(name); }

const std::map<std::string, ParameterSetting>& ParameterTable::model(std::size_t model) const {
  return model < per_model_.size() ? per_model_[model] : kNoSettings;
}

bool ParameterTable::given(std::string_view name) const {
  const std::string key(name);
  if (global_.count(key)) return true;
  return std::any_of(per_model_.begin(), per_model_.end(), [&](const auto& m) { return m.count(key) > 0; });
}

std::optional<ParameterScalar> ParameterTable::find(std::string_view name, std::optional<std::size_t> model,
                                                    std::string_view tensor_name, double t) const {
  const std::string key(name);
  if (model) {
    const auto& own = this->model(*model);
    if (const auto it = own.find(key); it != own.end())
      if (auto v = it->second.evaluate(tensor_name, t)) return v;
  }
  if (const auto it = global_.find(key); it != global_.end()) return it->second.evaluate(tensor_name, t);
  return std::nullopt;
}

bool NumberRange::contains(double value) const {
  if (!std::isfinite(value)) return false;
  if (value < min || (min_open && value == min)) return false;
  if (value > max || (max_open && value == max)) return false;
  return true;
}

std::optional<double> NumberRange::read(double value) const {
  if (percent && value > 1.0 && value <= 100.0) return value / 100.0;
  if (!contains(value)) return std::nullopt;
  return value;
}

std::string NumberRange::describe() const {
  const bool low = std::isfinite(min), high = std::isfinite(max);
  if (percent) return "a fraction in " + std::string(min_open ? "(" : "[") + format_number(min) + ", " + format_number(max) +
                      (max_open ? ")" : "]") + " or a percentage in (1, 100]";
  if (low && high)
    return "a number in " + std::string(min_open ? "(" : "[") + format_number(min) + ", " + format_number(max) +
           (max_open ? ")" : "]");
  if (low) return "a finite number " + std::string(min_open ? "> " : ">= ") + format_number(min);
  if (high) return "a finite number " + std::string(max_open ? "< " : "<= ") + format_number(max);
  return "a finite number";
}

namespace {

// One value of a setting, checked against its declaration; percentages become fractions.
ParameterScalar checked_value(const ParameterDef& def, ParameterScalar v, std::string_view method,
                              const std::string& where) {
  auto refuse = [&] {
    return UsageError(std::string(method) + ": parameter '" + std::string(def.name) + "' (" + where + ") must be " +
                      type_name(def) + ", not '" + v.to_string() + "'");
  };
  if (!fits(def, v)) throw refuse();
  // A text is kept as written, whatever it looks like (a pattern "1" read as a number).
  if (def.type == ParameterType::text) return ParameterScalar::of_text(v.to_string());
  if (def.type != ParameterType::number) return v;
  const auto number = def.range.read(v.number);
  if (!number) throw refuse();
  return ParameterScalar::of_number(*number);  // as format_number writes it, whichever way it was written
}

ParameterSetting checked_setting(const ParameterDef& def, const ParameterSetting& setting, std::string_view method,
                                 const std::string& where) {
  const std::string name(def.name);
  if (def.scope == ParameterScope::merge &&
      (setting.conditions.size() != 1 || setting.conditions[0].filter || setting.conditions[0].scope ||
       setting.conditions[0].value.size() != 1))
    throw UsageError(std::string(method) + ": parameter '" + name + "' (" + where +
                     ") is one value for the whole merge, not a list, a gradient or a set of filters");
  ParameterSetting out;
  for (const auto& condition : setting.conditions) {
    if (condition.value.size() > 1 && def.type != ParameterType::number)
      throw UsageError(std::string(method) + ": parameter '" + name + "' (" + where + ") is " + type_name(def) +
                       ": it cannot be a gradient (a list of values)");
    ParameterCondition c{condition.filter, {}, condition.scope};
    for (const auto& v : condition.value) c.value.push_back(checked_value(def, v, method, where));
    out.conditions.push_back(std::move(c));
  }
  return out;
}

}  // namespace

ParameterTable validate_parameters(const ParameterTable& table, std::span<const ParameterDef> defs,
                                   std::string_view method, std::size_t models, bool mergekit_rules) {
  const std::string m(method);
  auto def_of = [&](const std::string& name, const std::string& where) -> const ParameterDef& {
    const ParameterDef* def = find_def(defs, name);
    if (!def) throw UsageError(m + " takes no parameter '" + name + "' (" + where + "; it takes: " + known_names(defs) + ")");
    if (def->inert && !mergekit_rules)
      throw UsageError(m + ": parameter '" + name + "' has no effect here (" + where +
                       "); it is accepted only from mergekit's job files, where mergekit takes it");
    return *def;
  };
  ParameterTable out;
  for (const auto& [name, setting] : table.global()) {
    const ParameterDef& def = def_of(name, "given for the merge");
    out.set_global(name, checked_setting(def, setting, method, "global"));
  }
  if (table.models_with_settings() > models) {
    for (std::size_t i = models; i < table.models_with_settings(); ++i)
      if (!table.model(i).empty())
        throw UsageError(m + ": parameter '" + table.model(i).begin()->first + "' is given for model " +
                         std::to_string(i + 1) + ", but the merge has " + std::to_string(models) + " models");
  }
  for (std::size_t i = 0; i < table.models_with_settings(); ++i)
    for (const auto& [name, setting] : table.model(i)) {
      const std::string where = "model " + std::to_string(i + 1);
      const ParameterDef& def = def_of(name, "given for " + where);
      if (def.scope != ParameterScope::per_model)
        throw UsageError(m + ": '" + name + "' is one value for the whole merge, not per model (given for " + where +
                         "): set it under the top-level parameters");
      out.set_model(i, name, checked_setting(def, setting, method, where));
    }
  for (const ParameterDef& def : defs) {
    const std::string name(def.name);
    const bool everywhere = out.global().count(name) > 0;
    for (std::size_t i = 0; i < models && !everywhere; ++i) {
      const bool own = out.model(i).count(name) > 0;
      if (own) continue;
      if (!def.default_value || (mergekit_rules && def.required_in_job_files))
        throw UsageError(m + ": parameter '" + name + "' is required" +
                         (def.scope == ParameterScope::per_model ? " for model " + std::to_string(i + 1) : std::string()) +
                         " but not given" +
                         (def.scope == ParameterScope::per_model
                              ? ": set it in the model's parameters or in the global parameters"
                              : ""));
    }
  }
  out.set_layer_positions(table.layer_positions());
  return out;
}

std::vector<UsedParameter> used_parameters(const ParameterTable& validated, std::span<const ParameterDef> defs,
                                           std::size_t models) {
  std::vector<UsedParameter> used;
  for (const ParameterDef& def : defs) {
    if (def.inert) continue;
    const std::string name(def.name);
    const auto global = validated.global().find(name);
    // The setting each model sees: its own, else the global one, else the default.
    std::vector<ParameterSetting> per_model;
    bool differ = false;
    for (std::size_t i = 0; i < models && def.scope == ParameterScope::per_model; ++i) {
      const auto own = validated.model(i).find(name);
      if (own != validated.model(i).end()) per_model.push_back(own->second);
      else if (global != validated.global().end()) per_model.push_back(global->second);
      else if (def.default_value) per_model.push_back(ParameterSetting::scalar(*def.default_value));
      else continue;
      differ = differ || per_model.back().to_string() != per_model.front().to_string();
    }
    UsedParameter u{name, {}, {}};
    if (differ) {
      for (const auto& s : per_model) u.text += (u.text.empty() ? "[" : ", ") + s.to_string();
      u.text += "]";
      used.push_back(std::move(u));
      continue;
    }
    std::optional<ParameterSetting> setting;
    if (!per_model.empty()) setting = per_model.front();
    else if (global != validated.global().end()) setting = global->second;
    else if (def.default_value) setting = ParameterSetting::scalar(*def.default_value);
    if (!setting) continue;
    u.text = setting->to_string();
    if (setting->conditions.size() == 1 && !setting->conditions[0].filter && setting->conditions[0].value.size() == 1)
      u.value = setting->conditions[0].value[0];
    used.push_back(std::move(u));
  }
  return used;
}

std::string describe_parameters(const std::vector<UsedParameter>& used) {
  std::string text;
  for (const auto& u : used) text += (text.empty() ? "" : ", ") + u.name + " " + u.text;
  return text;
}

std::optional<LayerPart> layer_part(std::string_view name) {
  std::size_t begin = 0;
  while (begin <= name.size()) {
    std::size_t end = name.find_first_of("./", begin);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(begin, end - begin);
    if (!part.empty() && part.size() <= 9 && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return LayerPart{std::stoull(std::string(part)), begin, end};
    begin = end + 1;
  }
  return std::nullopt;
}

bool is_before_layers(std::string_view name) {
  if (layer_part(name)) return false;
  return name.find("embed") != std::string_view::npos || name.find("wte") != std::string_view::npos ||
         name.find("wpe") != std::string_view::npos;
}

bool TensorScope::contains(std::string_view name) const {
  if (const auto layer = layer_part(name)) return layer->index >= first_layer && layer->index < end_layer;
  return is_before_layers(name) ? before_layers : after_layers;
}

std::vector<double> gradient_positions(std::span<const std::string> tensor_names, std::span<const double> layer_positions) {
  std::vector<std::optional<std::uint64_t>> layer(tensor_names.size());
  std::uint64_t layers = 0;
  for (std::size_t i = 0; i < tensor_names.size(); ++i)
    if (const auto part = layer_part(tensor_names[i])) {
      layer[i] = part->index;
      layers = std::max(layers, part->index + 1);
    }
  std::vector<double> positions(tensor_names.size(), 0.0);
  for (std::size_t i = 0; i < layer.size(); ++i) {
    if (!layer[i]) continue;
    if (*layer[i] < layer_positions.size())
      positions[i] = layer_positions[*layer[i]];
    else
      positions[i] = layers > 1 ? static_cast<double>(*layer[i]) / static_cast<double>(layers - 1) : 1.0;
  }
  return positions;
}

ParameterView::ParameterView(const ParameterTable& table, std::span<const ParameterDef> defs, const MergeShape& shape,
                             std::string_view method)
    : table_(table), defs_(defs), shape_(shape), method_(method) {
  std::vector<std::string> names;
  for (const auto& t : shape.tensors) names.push_back(t.name);
  positions_ = gradient_positions(names, table.layer_positions());
}

const ParameterDef& ParameterView::def(std::string_view name) const {
  const ParameterDef* d = find_def(defs_, name);
  if (!d) throw Error(method_ + ": reads undeclared parameter '" + std::string(name) + "'");
  return *d;
}

ParameterScalar ParameterView::value(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const {
  const ParameterDef& d = def(name);
  const std::optional<std::size_t> owner = d.scope == ParameterScope::per_model ? model : std::nullopt;
  const std::string_view tensor_name = tensor < shape_.tensors.size() ? std::string_view(shape_.tensors[tensor].name) : "";
  const double t = tensor < positions_.size() ? positions_[tensor] : 0.0;
  if (auto v = table_.find(name, owner, tensor_name, t)) return *v;
  if (d.default_value) return *d.default_value;
  std::string where = owner ? " for model " + std::to_string(*owner + 1) : std::string();
  if (!tensor_name.empty()) where += " (tensor '" + std::string(tensor_name) + "')";
  throw UsageError(method_ + ": parameter '" + std::string(name) + "' is required" + where + " but not given" +
                   (owner ? ": set it in the model's parameters or in the global parameters" : ""));
}

double ParameterView::number(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const {
  return value(name, tensor, model).number;
}

std::uint64_t ParameterView::integer(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const {
  return as_integer(value(name, tensor, model)).value_or(0);
}

bool ParameterView::flag(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const {
  return value(name, tensor, model).boolean;
}

std::string ParameterView::word(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const {
  return value(name, tensor, model).to_string();
}

double ParameterView::uniform_number(std::string_view name, std::optional<std::size_t> model) const {
  if (shape_.tensors.empty()) return value(name, 0, model).number;
  const double first = number(name, 0, model);
  for (std::size_t t = 1; t < shape_.tensors.size(); ++t) {
    const double v = number(name, t, model);
    if (v != first)
      throw UsageError(method_ + ": parameter '" + std::string(name) + "'" +
                       (model ? " of model " + std::to_string(*model + 1) : std::string()) +
                       " must be the same for every tensor here, but is " + format_number(first) + " for '" +
                       shape_.tensors[0].name + "' and " + format_number(v) + " for '" + shape_.tensors[t].name + "'");
  }
  return first;
}

std::string ParameterView::uniform_word(std::string_view name) const {
  const std::string first = word(name, 0);
  for (std::size_t t = 1; t < shape_.tensors.size(); ++t) {
    const std::string w = word(name, t);
    if (w != first)
      throw UsageError(method_ + ": parameter '" + std::string(name) + "' must be the same for every tensor, but is " +
                       first + " for '" + shape_.tensors[0].name + "' and " + w + " for '" + shape_.tensors[t].name + "'");
  }
  return first;
}

std::string ParameterView::describe(std::string_view name, std::size_t tensor, std::optional<std::size_t> model) const {
  std::string text = method_ + ": parameter '" + std::string(name) + "'";
  if (model) text += " of " + model_label(model);
  if (tensor < shape_.tensors.size()) text += " for tensor '" + shape_.tensors[tensor].name + "'";
  return text;
}

}  // namespace mpimerge
