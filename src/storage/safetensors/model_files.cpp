#include "storage/safetensors/model_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"

namespace mpimerge::storage::safetensors {
namespace fs = std::filesystem;
namespace {

std::string_view torch_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    default: return "";
  }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw Error(path.string() + ": cannot read");
  return text.str();
}

}  // namespace

bool is_model_file(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "config.json",           "generation_config.json", "special_tokens_map.json", "added_tokens.json",
      "vocab.json",            "vocab.txt",              "merges.txt",              "chat_template.json",
      "chat_template.jinja",   "preprocessor_config.json", "processor_config.json",
  };
  if (std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames)) return true;
  // tokenizer.json, tokenizer_config.json, tokenizer.model, and sentencepiece models (spiece.model);
  // a model's own code (modeling_*.py, configuration_*.py), which trust_remote_code loads.
  return starts_with(name, "tokenizer") || ends_with(name, ".model") || ends_with(name, ".py");
}

std::string config_with_dtype(std::string_view config_text, DType dtype, std::string_view path) {
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(config_text.begin(), config_text.end());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string(path) + ": not valid JSON: " + e.what());
  }
  if (!config.is_object()) throw InputError(std::string(path) + ": not a JSON object");
  for (const char* key : {"torch_dtype", "dtype"})
    if (config.contains(key)) config[key] = torch_name(dtype);
  return config.dump(2) + "\n";
}

std::string config_for_output(std::string_view config_text, std::optional<DType> dtype, std::string_view path,
                              std::optional<std::uint64_t> layers, std::optional<std::uint64_t> vocab_size) {
  const bool set_dtype = dtype && !torch_name(*dtype).empty();
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(config_text.begin(), config_text.end());
  } catch (const nlohmann::json::exception& e) {
    if (!set_dtype && !layers && !vocab_size) return std::string(config_text);  // not ours to judge
    throw InputError(std::string(path) + ": not valid JSON: " + e.what());
  }
  if ((layers || vocab_size) && !config.is_object()) throw InputError(std::string(path) + ": not a JSON object");
  if (vocab_size && config.contains("vocab_size") && config["vocab_size"].is_number_unsigned() &&
      config["vocab_size"].get<std::uint64_t>() == *vocab_size)
    vocab_size.reset();  // as it is
  const bool names_weights = config.is_object() && config.contains("transformers_weights");
  if (!names_weights && !set_dtype && !layers && !vocab_size) return std::string(config_text);
  if (set_dtype) config = nlohmann::ordered_json::parse(config_with_dtype(config_text, *dtype, path));
  config.erase("transformers_weights");
  if (layers) {
    const char* key = config.contains("num_hidden_layers") || !config.contains("n_layer") ? "num_hidden_layers" : "n_layer";
    config[key] = *layers;
  }
  if (vocab_size) config["vocab_size"] = *vocab_size;
  return config.dump(2) + "\n";
}

std::vector<std::string> copy_model_files(const std::string& from_dir, const std::string& to_dir,
                                          std::optional<DType> dtype, std::optional<std::uint64_t> layers,
                                          std::optional<std::uint64_t> vocab_size) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(from_dir))
    if (entry.is_regular_file() && is_model_file(entry.path().filename().string()))
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const fs::path from = fs::path(from_dir) / name, to = fs::path(to_dir) / name;
    if (name == "config.json") {
      const std::string text = config_for_output(read_text(from), dtype, from.string(), layers, vocab_size);
      std::ofstream out(to, std::ios::binary);
      out << text;
      if (!out) throw Error(to.string() + ": cannot write");
      continue;
    }
    // The content only: the copy gets the output's own permissions, not a read-only source's.
    std::ofstream out(to, std::ios::binary);
    out << read_text(from);
    if (!out) throw Error(to.string() + ": cannot write");
  }
  return names;
}

void write_tokenizer_files(const std::string& from_dir, const std::string& to_dir, const std::string& chat_template,
                           const std::vector<std::pair<std::string, std::string>>& rewritten) {
  auto write = [](const fs::path& to, const std::string& text) {
    std::ofstream out(to, std::ios::binary);
    out << text;
    if (!out) throw Error(to.string() + ": cannot write");
  };
  auto is_tokenizer_file = [](const std::string& name) {
    return is_model_file(name) && name != "config.json" && name != "generation_config.json";
  };
  auto is_slow_tokenizer_file = [](const std::string& name) {
    return name == "vocab.json" || name == "vocab.txt" || name == "merges.txt" || name == "added_tokens.json" ||
           (ends_with(name, ".model") && !ends_with(name, ".py"));
  };
  auto replaced = [&](const std::string& name) {
    if (rewritten.empty()) return false;
    if (is_slow_tokenizer_file(name)) return true;
    return std::any_of(rewritten.begin(), rewritten.end(), [&](const auto& file) { return file.first == name; });
  };
  if (!from_dir.empty()) {
    std::vector<fs::path> old;
    for (const auto& entry : fs::directory_iterator(to_dir))
      if (entry.is_regular_file() && is_tokenizer_file(entry.path().filename().string())) old.push_back(entry.path());
    for (const fs::path& p : old) fs::remove(p);
    for (const auto& entry : fs::directory_iterator(from_dir))
      if (entry.is_regular_file() && is_tokenizer_file(entry.path().filename().string()) &&
          !replaced(entry.path().filename().string()))
        write(fs::path(to_dir) / entry.path().filename(), read_text(entry.path()));
  }
  for (const auto& [name, text] : rewritten) write(fs::path(to_dir) / name, text);
  if (chat_template.empty()) return;
  fs::remove(fs::path(to_dir) / "chat_template.json");
  const fs::path config_path = fs::path(to_dir) / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    const std::string text = read_text(config_path);
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(text, nullptr, false);
    if (config.is_object() && config.contains("chat_template")) {
      config.erase("chat_template");
      write(config_path, config.dump(2) + "\n");
    }
  }
  write(fs::path(to_dir) / "chat_template.jinja", chat_template);
}

}  // namespace mpimerge::storage::safetensors
