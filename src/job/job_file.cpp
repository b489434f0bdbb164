#include "mpimerge/job/job_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"

namespace mpimerge::job {
namespace {

// Caps on list lengths: aliases can repeat a long list many times, and nothing legitimate is long.
constexpr std::size_t kMaxListLength = 100000;

// Side inputs are keys of a model: those any registered method declares.
bool is_side_input(const std::string& key) {
  for (const MethodSpec* s : method_registry())
    if (s->find_side_input(key)) return true;
  return false;
}

std::string side_input_names() {
  std::string names;
  for (const MethodSpec* s : method_registry())
    for (const auto& input : s->side_inputs)
      if (names.find(std::string(input.name)) == std::string::npos)
        names += (names.empty() ? "" : ", ") + std::string(input.name);
  return names;
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& what) const {
    throw UsageError(where(at) + what);
  }
  [[noreturn]] void fail(const YAML::Mark& at, const std::string& what) const {
    std::string place = source_;
    if (!at.is_null() && at.line >= 0) place += ":" + std::to_string(at.line + 1) + ":" + std::to_string(at.column + 1);
    throw UsageError(place + ": " + what);
  }

  std::string where(const YAML::Node& at) const {
    std::string place = source_;
    const YAML::Mark mark = at.Mark();
    if (!mark.is_null() && mark.line >= 0)
      place += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    return place + ": ";
  }

  // The entries of a mapping in order, refusing duplicate and non-scalar keys.
  std::vector<std::pair<std::string, YAML::Node>> entries(const YAML::Node& map, const std::string& what) const {
    if (!map.IsMap()) fail(map, what + " must be a mapping (key: value)");
    std::vector<std::pair<std::string, YAML::Node>> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) fail(it->first, "a key of " + what + " must be a plain word");
      const std::string key = it->first.Scalar();
      if (!seen.insert(key).second) fail(it->first, "duplicate key '" + key + "' in " + what);
      out.emplace_back(key, it->second);
      if (out.size() > kMaxListLength) fail(map, what + " has too many keys");
    }
    return out;
  }

  std::string text(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) fail(node, what + " must be a single value (a path or a word)");
    return node.Scalar();
  }

  ParameterScalar scalar(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) fail(node, what + " must be a number, true/false or a word");
    return parse_scalar(node.Scalar(), node.Tag() == "!");
  }

  // A value of a condition or a plain setting: a scalar, or a list of numbers (a gradient).
  std::vector<ParameterScalar> value(const YAML::Node& node, const std::string& what) const {
    if (node.IsSequence()) {
      if (node.size() == 0) fail(node, what + " is an empty list");
      if (node.size() > kMaxListLength) fail(node, what + " is too long a list");
      std::vector<ParameterScalar> values;
      for (const auto& item : node) {
        if (!item.IsScalar())
          fail(item, what + ": a list value is a gradient and holds numbers only");
        ParameterScalar v = scalar(item, what);
        if (v.kind != ParameterScalar::Kind::number)
          fail(item, what + ": a list value is a gradient and holds numbers only, not '" + v.to_string() + "'");
        values.push_back(std::move(v));
      }
      return values;
    }
    if (node.IsNull()) fail(node, what + " has no value");
    return {scalar(node, what)};
  }

  ParameterCondition condition(const YAML::Node& node, const std::string& what) const {
    ParameterCondition c;
    bool has_value = false;
    for (const auto& [key, item] : entries(node, what)) {
      if (key == "filter") {
        if (!item.IsNull()) c.filter = text(item, what + " filter");
      } else if (key == "value") {
        c.value = value(item, what + " value");
        has_value = true;
      } else {
        fail(node, what + ": unknown key '" + key + "' (a condition has filter and value)");
      }
    }
    if (!has_value) fail(node, what + ": a condition needs a value");
    return c;
  }

  ParameterSetting setting(const YAML::Node& node, const std::string& what) const {
    ParameterSetting s;
    if (node.IsMap()) {
      s.conditions.push_back(condition(node, what));
    } else if (node.IsSequence() && node.size() > 0 && node[0].IsMap()) {
      if (node.size() > kMaxListLength) fail(node, what + " has too many conditions");
      for (const auto& item : node) {
        if (!item.IsMap()) fail(item, what + ": a list of conditions holds {filter, value} mappings only");
        s.conditions.push_back(condition(item, what));
      }
    } else {
      s.conditions.push_back({std::nullopt, value(node, what)});
    }
    return s;
  }

  std::map<std::string, ParameterSetting> parameters(const YAML::Node& node, const std::string& what) const {
    std::map<std::string, ParameterSetting> out;
    if (node.IsNull()) return out;
    for (const auto& [key, item] : entries(node, what)) out[key] = setting(item, "parameter '" + key + "'");
    return out;
  }

  DType dtype(const YAML::Node& node, const std::string& key) const {
    const std::string name = text(node, key);
    const auto d = parse_dtype(name);
    if (!d || !is_float(*d)) fail(node, key + " '" + name + "': expected float32, float64, float16 or bfloat16");
    return *d;
  }

  // A number that is a whole number in [least, most]; nullopt for anything else.
  static std::optional<std::uint64_t> whole_number(const ParameterScalar& v, double least, double most) {
    if (v.kind != ParameterScalar::Kind::number || !(v.number >= least) || v.number != std::floor(v.number) || v.number > most)
      return std::nullopt;
    return static_cast<std::uint64_t>(v.number);
  }

  // mergekit's tokenizer block (TokenizerConfig): source (default union, as mergekit), tokens,
  // pad_to_multiple_of.
  TokenizerChoice tokenizer(const YAML::Node& node) const {
    TokenizerChoice out;
    out.source = "union";
    for (const auto& [key, item] : entries(node, "tokenizer")) {
      if (key == "source") {
        out.source = text(item, "tokenizer source");
      } else if (key == "tokens") {
        if (item.IsNull()) continue;
        for (const auto& [token, entry] : entries(item, "tokenizer tokens")) {
          if (token.empty()) fail(item, "tokenizer tokens: a token is an empty string");
          out.tokens.emplace_back(token, token_row_source(entry, "tokenizer tokens '" + token + "'"));
        }
      } else if (key == "pad_to_multiple_of") {
        if (item.IsNull()) continue;
        const auto v = whole_number(scalar(item, "tokenizer pad_to_multiple_of"), 1, 1e9);
        if (!v) fail(item, "tokenizer: pad_to_multiple_of must be a positive integer");
        out.pad_to_multiple_of = *v;
      } else {
        fail(node, "tokenizer: unknown key '" + key + "' (it has source, tokens, pad_to_multiple_of)");
      }
    }
    return out;
  }

  // One token's TokenEmbeddingConfig: source (a model's path, {kind: zero}, or {kind: model_token,
  // model, token_id or token}) and force.
  TokenRowSource token_row_source(const YAML::Node& node, const std::string& what) const {
    TokenRowSource out;
    bool has_source = false;
    for (const auto& [key, item] : entries(node, what)) {
      if (key == "force") {
        const ParameterScalar v = scalar(item, what + " force");
        if (v.kind != ParameterScalar::Kind::boolean) fail(item, what + ": force must be true or false");
        out.force = v.boolean;
      } else if (key == "source") {
        has_source = !item.IsNull();
        if (item.IsScalar()) {
          out.kind = TokenRowSource::Kind::model;
          out.model = item.Scalar();
          continue;
        }
        if (!has_source) continue;
        std::string kind;
        bool has_id = false, has_token = false;
        for (const auto& [skey, value] : entries(item, what + " source")) {
          if (skey == "kind") {
            kind = text(value, what + " source kind");
          } else if (skey == "model") {
            out.model = text(value, what + " source model");
          } else if (skey == "token_id") {
            out.token_id = whole_number(scalar(value, what + " source token_id"), 0, 1e12);
            if (!out.token_id) fail(value, what + ": token_id must be a non-negative integer");
            has_id = true;
          } else if (skey == "token") {
            out.token = text(value, what + " source token");
            has_token = true;
          } else {
            fail(item, what + " source: unknown key '" + skey + "' (it has kind, and for model_token model and token_id or token)");
          }
        }
        if (kind == "zero") {
          if (!out.model.empty() || has_id || has_token) fail(item, what + ": a source of kind zero takes no model or token");
          out.kind = TokenRowSource::Kind::zero;
        } else if (kind == "model_token") {
          if (out.model.empty()) fail(item, what + ": a source of kind model_token needs model");
          if (has_id == has_token) fail(item, what + ": a source of kind model_token needs token_id or token, one of them");
          out.kind = TokenRowSource::Kind::model_token;
        } else {
          fail(item, what + ": source kind '" + kind + "' is unknown (zero or model_token; or give a model's path)");
        }
      } else {
        fail(node, what + ": unknown key '" + key + "' (it has source and force)");
      }
    }
    // mergekit accepts an entry without a source and then fails in the middle of its merge.
    if (!has_source) fail(node, what + " has no source (a model's path, {kind: zero} or {kind: model_token, ...})");
    return out;
  }

  JobModel model(const YAML::Node& node, std::size_t index) const {
    const std::string what = "model " + std::to_string(index + 1);
    if (node.IsScalar()) fail(node, what + " must be a mapping with a 'model' key (- model: path)");
    JobModel m;
    bool has_path = false;
    for (const auto& [key, item] : entries(node, what)) {
      if (key == "model") {
        if (item.IsMap()) fail(item, what + ": 'model' must be a checkpoint path (model references with LoRA or revisions are not supported)");
        m.path = text(item, what + " path");
        has_path = !m.path.empty();
      } else if (key == "parameters") {
        m.parameters = parameters(item, what + " parameters");
      } else if (is_side_input(key)) {
        m.side_inputs[key] = text(item, what + " " + key);
      } else if (key == "layer_range") {
        fail(item, what + ": layer_range belongs to a slice's source (slices: - sources: - model: path, layer_range: "
                          "[first, end]); under 'models' each model is taken whole");
      } else {
        fail(node, what + ": unknown key '" + key + "' (a model has model, parameters, and a method's side inputs: " +
                       side_input_names() + ")");
      }
    }
    if (!has_path) fail(node, what + " has no 'model' path");
    return m;
  }

  // [first, end): two layer indices, first below end.
  std::pair<std::uint64_t, std::uint64_t> layer_range(const YAML::Node& node, const std::string& what) const {
    if (!node.IsSequence() || node.size() != 2)
      fail(node, what + ": layer_range must be two layer indices [first, end] (end not included)");
    std::uint64_t bounds[2] = {0, 0};
    for (std::size_t i = 0; i < 2; ++i) {
      const ParameterScalar v = scalar(node[i], what + " layer_range");
      const auto index = whole_number(v, 0, 1e9);
      if (!index) fail(node[i], what + ": layer_range holds layer indices (integers >= 0), not '" + v.to_string() + "'");
      bounds[i] = *index;
    }
    if (bounds[0] >= bounds[1])
      fail(node, what + ": layer_range [" + std::to_string(bounds[0]) + ", " + std::to_string(bounds[1]) +
                     "] holds no layer (the end is not included)");
    return {bounds[0], bounds[1]};
  }

  JobSliceSource slice_source(const YAML::Node& node, const std::string& what) const {
    if (!node.IsMap()) fail(node, what + " must be a mapping with 'model' and 'layer_range'");
    JobSliceSource source;
    bool has_path = false, has_range = false;
    for (const auto& [key, item] : entries(node, what)) {
      if (key == "model") {
        if (item.IsMap()) fail(item, what + ": 'model' must be a checkpoint path (model references with LoRA or revisions are not supported)");
        source.path = text(item, what + " path");
        has_path = !source.path.empty();
      } else if (key == "layer_range") {
        std::tie(source.first_layer, source.end_layer) = layer_range(item, what);
        has_range = true;
      } else if (key == "parameters") {
        source.parameters = parameters(item, what + " parameters");
      } else {
        fail(node, what + ": unknown key '" + key + "' (a slice's source has model, layer_range and parameters)");
      }
    }
    if (!has_path) fail(node, what + " has no 'model' path");
    if (!has_range) fail(node, what + " has no layer_range (slices take layer ranges; whole models go under 'models')");
    return source;
  }

  JobSlice output_slice(const YAML::Node& node, std::size_t index) const {
    const std::string what = "slice " + std::to_string(index + 1);
    JobSlice slice;
    bool has_sources = false;
    for (const auto& [key, item] : entries(node, what)) {
      if (key == "sources") {
        if (!item.IsSequence() || item.size() == 0) fail(item, what + ": sources must be a non-empty list (- model: path, layer_range: [first, end])");
        if (item.size() > kMaxListLength) fail(item, what + ": sources is too long a list");
        for (std::size_t i = 0; i < item.size(); ++i)
          slice.sources.push_back(slice_source(item[i], what + " source " + std::to_string(i + 1)));
        has_sources = true;
      } else if (key == "base_model") {
        if (item.IsMap()) fail(item, what + ": base_model must be a checkpoint path (model references are not supported)");
        if (!item.IsNull()) slice.base_model = text(item, what + " base_model");
      } else if (key == "parameters") {
        slice.parameters = parameters(item, what + " parameters");
      } else if (key == "residual_weight") {
        scalar(item, what + " residual_weight");  // mergekit declares it and uses it nowhere
      } else {
        fail(node, what + ": unknown key '" + key + "' (a slice has sources, base_model and parameters)");
      }
    }
    if (!has_sources) fail(node, what + " has no sources");
    const std::uint64_t layers = slice.sources[0].end_layer - slice.sources[0].first_layer;
    for (std::size_t i = 1; i < slice.sources.size(); ++i)
      if (slice.sources[i].end_layer - slice.sources[i].first_layer != layers)
        fail(node, what + ": source " + std::to_string(i + 1) + " has " +
                       std::to_string(slice.sources[i].end_layer - slice.sources[i].first_layer) + " layers but source 1 has " +
                       std::to_string(layers) + " (the sources of a slice are merged layer by layer)");
    return slice;
  }

 private:
  std::string source_;
};

// ChatML, the one template every chat model family knows, as mergekit ships it
// (mergekit/_data/chat_templates/chatml.jinja: the format's two lines).
constexpr const char* kChatML =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}\n{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}\n";

const std::map<std::string, std::string>& refused_keys() {
  static const std::map<std::string, std::string> refused{
      {"modules", "modules are not supported: they split a model by architecture, which a parameter-level merge "
                  "does not know (list the checkpoints under 'models')"},
  };
  return refused;
}

// mergekit-moe's configurations (gate_mode, experts, experts_per_token, shared_experts) build a
// mixture of experts: the dense models' MLPs become experts behind a new router. That is a
// different program (mergekit-moe), refused here with one line, before any other key is judged.
void refuse_moe_config(const YAML::Node& root, const Reader& r) {
  std::optional<YAML::Node> key_node;
  for (const char* key : {"experts", "gate_mode", "experts_per_token", "shared_experts"})
    if (const YAML::Node node = root[key]; node.IsDefined()) {
      key_node = node;
      break;
    }
  if (!key_node) return;
  const YAML::Node gate = root["gate_mode"];
  const std::string mode = gate.IsDefined() && gate.IsScalar() ? gate.Scalar() : "hidden";  // mergekit-moe's default
  if (mode == "hidden" || mode == "cheap_embed")
    r.fail(*key_node, "a mergekit-moe config (gate_mode " + mode + "): mpimerge does not build mixture-of-experts models, "
                     "and gate_mode " + mode + " computes each router from the hidden states of the experts' prompts, "
                     "a forward pass through the model that a parameter-level merge does not have; use mergekit-moe");
  r.fail(*key_node, "a mergekit-moe config (gate_mode " + mode + "): mpimerge does not build mixture-of-experts models "
                   "(experts behind a new router, a new architecture); use mergekit-moe");
}

std::string normal_path(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

// A setting whose conditions hold only for one slice's tensors.
ParameterSetting scoped(const ParameterSetting& setting, const std::optional<TensorScope>& scope) {
  ParameterSetting out = setting;
  for (ParameterCondition& c : out.conditions) c.scope = scope;
  return out;
}

void append(std::map<std::string, ParameterSetting>& to, const std::string& name, const ParameterSetting& setting) {
  auto& conditions = to[name].conditions;
  conditions.insert(conditions.end(), setting.conditions.begin(), setting.conditions.end());
}

// A job file's slices as inputs of the merge (MergeJob::slices): the base's source of each slice
// is input 0 when the method takes a base, and the other sources follow in the order the slice
// lists them. Parameters take mergekit's precedence (config.py, ConfigReader.parameter): a
// source's own, then its slice's, then the global ones; each slice's apply to its own tensors
// only, and a gradient runs over each slice's layers (plan.py: t = i / (layers - 1)).
void add_slices(const JobFile& file, bool takes_base, bool requires_base, MergeJob& job) {
  const std::size_t slices = file.slices.size();
  std::vector<std::optional<std::size_t>> base_source(slices);
  for (std::size_t s = 0; s < slices; ++s) {
    const JobSlice& slice = file.slices[s];
    const std::string what = "slice " + std::to_string(s + 1);
    std::set<std::string> seen;
    for (const JobSliceSource& source : slice.sources)
      if (!seen.insert(normal_path(source.path)).second)
        throw UsageError(what + " lists '" + source.path + "' twice (mergekit keys a slice's sources by model)");
    const std::optional<std::string>& base = slice.base_model ? slice.base_model : file.base_model;
    if (takes_base && base)
      for (std::size_t i = 0; i < slice.sources.size(); ++i)
        if (normal_path(slice.sources[i].path) == normal_path(*base)) base_source[s] = i;
    if (requires_base && !base_source[s])
      throw UsageError(what + ": " + file.merge_method + " needs a base, and " +
                       (base ? "its base_model '" + *base + "' is not among its sources"
                             : std::string("no base_model is given (globally or for the slice)")));
    if (base_source[s].has_value() != base_source[0].has_value())
      throw UsageError(what + (base_source[s] ? " has" : " has no") + " base among its sources but slice 1" +
                       (base_source[0] ? " has" : " has not") + ": every slice must have its base, or none");
    if (slice.sources.size() != file.slices[0].sources.size())
      throw UsageError(what + " has " + std::to_string(slice.sources.size()) + " sources but slice 1 has " +
                       std::to_string(file.slices[0].sources.size()) +
                       ": every slice merges one source per input (the same number in each slice)");
  }

  const bool has_base = base_source[0].has_value();
  const std::size_t models = file.slices[0].sources.size() - (has_base ? 1 : 0);
  std::vector<std::map<std::string, ParameterSetting>> model_settings(models);
  std::map<std::string, ParameterSetting> global_settings;
  std::vector<double> positions;
  std::uint64_t offset = 0;
  for (std::size_t s = 0; s < slices; ++s) {
    const JobSlice& slice = file.slices[s];
    const std::uint64_t layers = slice.sources[0].end_layer - slice.sources[0].first_layer;
    // One slice holds every tensor: its settings need no scope.
    const std::optional<TensorScope> scope =
        slices == 1 ? std::nullopt : std::optional(TensorScope{offset, offset + layers, s == 0, s + 1 == slices});
    std::vector<SliceSource> inputs;
    if (has_base) {
      const JobSliceSource& b = slice.sources[*base_source[s]];
      inputs.push_back({b.path, b.first_layer, b.end_layer});
    }
    std::size_t model = 0;
    for (std::size_t i = 0; i < slice.sources.size(); ++i) {
      if (has_base && i == *base_source[s]) continue;  // the base's own parameters are not read (as in models:)
      const JobSliceSource& source = slice.sources[i];
      inputs.push_back({source.path, source.first_layer, source.end_layer});
      for (const auto& [name, setting] : source.parameters) append(model_settings[model], name, scoped(setting, scope));
      ++model;
    }
    for (const auto& [name, setting] : slice.parameters) append(global_settings, name, scoped(setting, scope));
    for (std::uint64_t k = 0; k < layers; ++k)
      positions.push_back(layers > 1 ? static_cast<double>(k) / static_cast<double>(layers - 1) : 1.0);
    job.slices.push_back(std::move(inputs));
    offset += layers;
  }
  for (const auto& [name, setting] : file.parameters) append(global_settings, name, setting);
  for (const auto& [name, setting] : global_settings) job.method.params.set_global(name, setting);
  for (std::size_t m = 0; m < models; ++m)
    for (const auto& [name, setting] : model_settings[m]) job.method.params.set_model(m, name, setting);
  job.method.params.set_layer_positions(std::move(positions));
  if (has_base) job.base = job.slices[0][0].path;
  for (std::size_t i = has_base ? 1 : 0; i < job.slices[0].size(); ++i) job.models.push_back(job.slices[0][i].path);
}

}  // namespace

std::string chat_template_text(const std::string& given) {
  if (given == "chatml") return kChatML;
  for (const char* name : {"llama3", "alpaca", "mistral", "exaone"})
    if (given == name)
      throw UsageError("chat_template '" + given + "': mpimerge knows the name chatml only (mergekit's other named "
                       "templates are its own files); give the template's Jinja text, or auto");
  if (given == "auto") return given;
  if (given.size() < 20 || given.find('{') == std::string::npos)
    throw UsageError("chat_template '" + given + "' is neither a template name (chatml, auto) nor a Jinja template");
  return given;
}

ParameterScalar parse_scalar(const std::string& text, bool quoted) {
  if (quoted) return ParameterScalar::of_text(text);
  static const std::set<std::string> yes{"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const std::set<std::string> no{"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  if (yes.count(text)) return ParameterScalar::of_boolean(true);
  if (no.count(text)) return ParameterScalar::of_boolean(false);
  if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf")
    return ParameterScalar::of_number(HUGE_VAL, text);
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") return ParameterScalar::of_number(-HUGE_VAL, text);
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return ParameterScalar::of_number(std::nan(""), text);
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') ++begin;
  double value = 0;
  const auto [stop, ec] = std::from_chars(begin, end, value);
  const bool spelled_out = begin != end && (std::isdigit(static_cast<unsigned char>(*begin)) || *begin == '-' || *begin == '.');
  if (ec == std::errc() && stop == end && spelled_out) return ParameterScalar::of_number(value, text);
  return ParameterScalar::of_text(text);
}

JobFile parse_job_file(const std::string& text, const std::string& source) {
  const Reader r(source);
  if (text.size() > kMaxJobFileBytes)
    throw UsageError(source + ": a job file of " + std::to_string(text.size()) + " bytes is too large (at most " +
                     std::to_string(kMaxJobFileBytes) + ")");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    r.fail(e.mark, "not valid YAML: " + e.msg);
  }
  JobFile job;
  try {
    if (!root.IsMap()) throw UsageError(source + ": a job file is a mapping with merge_method, models, ...");
    refuse_moe_config(root, r);
    bool has_method = false, has_models = false, has_tokenizer = false;
    for (const auto& [key, node] : r.entries(root, "the job file")) {
      if (const auto it = refused_keys().find(key); it != refused_keys().end()) r.fail(node, it->second);
      if (key == "merge_method") {
        job.merge_method = r.text(node, "merge_method");
        has_method = true;
      } else if (key == "base_model") {
        if (node.IsMap()) r.fail(node, "base_model must be a checkpoint path (model references are not supported)");
        if (!node.IsNull()) job.base_model = r.text(node, "base_model");
      } else if (key == "models") {
        if (!node.IsSequence()) r.fail(node, "models must be a list (- model: path)");
        if (node.size() > kMaxListLength) r.fail(node, "models is too long a list");
        for (std::size_t i = 0; i < node.size(); ++i) job.models.push_back(r.model(node[i], i));
        has_models = true;
      } else if (key == "slices") {
        if (!node.IsSequence() || node.size() == 0) r.fail(node, "slices must be a non-empty list (- sources: [...])");
        if (node.size() > kMaxListLength) r.fail(node, "slices is too long a list");
        for (std::size_t i = 0; i < node.size(); ++i) job.slices.push_back(r.output_slice(node[i], i));
      } else if (key == "parameters") {
        job.parameters = r.parameters(node, "parameters");
      } else if (key == "dtype") {
        job.dtype = r.dtype(node, "dtype");
      } else if (key == "out_dtype") {
        job.out_dtype = r.dtype(node, "out_dtype");
      } else if (key == "tokenizer_source") {
        if (has_tokenizer) r.fail(node, "give tokenizer_source or tokenizer, not both (as mergekit)");
        job.tokenizer.source = r.text(node, "tokenizer_source");
        has_tokenizer = true;
      } else if (key == "tokenizer") {
        if (has_tokenizer) r.fail(node, "give tokenizer_source or tokenizer, not both (as mergekit)");
        job.tokenizer = r.tokenizer(node);
        has_tokenizer = true;
      } else if (key == "chat_template") {
        if (!node.IsNull()) job.chat_template = r.text(node, "chat_template");
      } else if (key == "output_format") {
        const std::string name = r.text(node, "output_format");
        if (name != "hdf5" && name != "safetensors")
          r.fail(node, "output_format '" + name + "' is unknown (known: hdf5, safetensors)");
        job.output_format = name;
      } else {
        r.fail(node, "unknown key '" + key + "' (a job file has merge_method, base_model, models or slices, parameters, "
                     "dtype, out_dtype, tokenizer_source or tokenizer, chat_template, output_format)");
      }
    }
    if (!has_method) throw UsageError(source + ": no merge_method given");
    if (has_models && !job.slices.empty())
      throw UsageError(source + ": give either models or slices, not both (as mergekit)");
    if ((!has_models || job.models.empty()) && job.slices.empty())
      throw UsageError(source + ": no models given (models: - model: path, or slices: - sources: [...])");
  } catch (const YAML::Exception& e) {
    r.fail(e.mark, e.msg);
  }
  return job;
}

MergeJob merge_job_from(const JobFile& file) {
  MergeJob job;
  job.method.method = file.merge_method;
  job.method.mergekit_rules = true;
  // Whether the method measures from a base decides what a model equal to base_model is.
  bool needs_base = true, requires_base = true;
  for (const MethodSpec* spec : method_registry())
    if (spec->name == file.merge_method) {
      needs_base = spec->needs_base || spec->optional_base;
      requires_base = spec->needs_base;
    }
  if (!file.slices.empty()) {
    add_slices(file, needs_base, requires_base, job);
  } else {
    for (const auto& [name, setting] : file.parameters) job.method.params.set_global(name, setting);
  }
  const std::optional<std::string> base = file.base_model ? std::optional(normal_path(*file.base_model)) : std::nullopt;
  bool base_listed = !file.slices.empty();
  for (const JobModel& m : file.models) {
    if (base && normal_path(m.path) == *base) {
      base_listed = true;
      if (needs_base) continue;  // the base, not a model (mergekit ignores its parameters too)
    }
    const std::size_t index = job.models.size();
    job.models.push_back(m.path);
    for (const auto& [name, setting] : m.parameters) job.method.params.set_model(index, name, setting);
    for (const auto& [name, path] : m.side_inputs) job.side_inputs[name].push_back(path);
  }
  if (file.slices.empty() && file.base_model && !base_listed && file.merge_method == "linear") {
    // mergekit adds a base_model missing from the models as one more input, last, with no
    // parameters of its own (plan.py, normalize_config), and linear averages every input: the
    // base's weight is the global one. Without one mergekit fails (a weight of None); here that
    // is said up front. Its config and tokenizer still make the output, as mergekit's donor.
    if (!file.parameters.count("weight"))
      throw UsageError("linear: base_model '" + *file.base_model + "' is not among the models, so mergekit averages "
                       "it in as one more model with the global weight, and the job file gives none (add "
                       "parameters: {weight: W}, or list the base under models with its weight)");
    job.models.push_back(*file.base_model);
    job.model_files_from = file.base_model;
  } else if (file.slices.empty() && file.base_model && (needs_base || !base_listed)) {
    job.base = file.base_model;
  }
  for (const auto& [name, paths] : job.side_inputs)
    if (paths.size() != job.models.size())
      throw UsageError(name + " is given for " + std::to_string(paths.size()) + " of " + std::to_string(job.models.size()) +
                       " models: give one per model, or none");
  job.compute_in_float64 = file.dtype == DType::f64;
  if (file.dtype && (*file.dtype == DType::bf16 || *file.dtype == DType::f16)) job.notes.push_back(sixteen_bit_compute_note(*file.dtype));
  job.out_dtype = file.out_dtype ? file.out_dtype : file.dtype;  // mergekit: out_dtype defaults to dtype
  job.output_format = file.output_format.value_or("");
  job.tokenizer = file.tokenizer;
  if (!file.chat_template.empty()) job.chat_template = chat_template_text(file.chat_template);
  return job;
}

}  // namespace mpimerge::job
