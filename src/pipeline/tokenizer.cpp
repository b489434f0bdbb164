#include "pipeline/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every checkpoint the job reads, in order, once.
std::vector<std::string> job_checkpoints(const MergeJob& job) {
  std::vector<std::string> paths;
  auto add = [&](const std::string& p) {
    if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
  };
  if (job.base) add(*job.base);
  for (const auto& m : job.models) add(m);
  for (const auto& slice : job.slices)
    for (const auto& source : slice) add(source.path);
  return paths;
}

std::string directory_of(const std::string& checkpoint, const std::string& key) {
  const std::string dir = storage::model_directory_of(checkpoint);
  if (dir.empty())
    throw UsageError(key + ": '" + checkpoint + "' is not a Hugging Face directory (its tokenizer files are read "
                     "from one)");
  return dir;
}

std::string template_of(const std::string& dir) {
  const fs::path jinja = fs::path(dir) / "chat_template.jinja";
  if (fs::exists(jinja)) return read_file(jinja.string());
  const fs::path config = fs::path(dir) / "tokenizer_config.json";
  if (!fs::exists(config)) return "";
  const auto j = nlohmann::json::parse(read_file(config.string()), nullptr, false);
  if (j.is_object() && j.contains("chat_template") && j["chat_template"].is_string()) return j["chat_template"];
  return "";
}

}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> read_vocabulary(const std::string& path) {
  const nlohmann::json j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(path + ": not valid JSON");
  std::map<std::string, std::uint64_t> vocab;
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object() || !model->contains("vocab"))
    throw InputError(path + ": no model.vocab (expected a tokenizers library tokenizer.json)");
  const nlohmann::json& v = (*model)["vocab"];
  if (v.is_object()) {  // BPE, WordLevel, WordPiece: token -> id
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_number_unsigned()) throw InputError(path + ": the id of token '" + it.key() + "' is not a number");
      vocab[it.key()] = it.value().get<std::uint64_t>();
    }
  } else if (v.is_array()) {  // Unigram: [token, score] at its id
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_array() || v[i].empty() || !v[i][0].is_string()) throw InputError(path + ": model.vocab entry " + std::to_string(i) + " is not [token, score]");
      vocab[v[i][0].get<std::string>()] = i;
    }
  } else {
    throw InputError(path + ": model.vocab is neither a mapping nor a list");
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& t : j["added_tokens"])
      if (t.is_object() && t.contains("content") && t["content"].is_string() && t.contains("id") && t["id"].is_number_unsigned())
        vocab[t["content"].get<std::string>()] = t["id"].get<std::uint64_t>();
  return {vocab.begin(), vocab.end()};
}

std::optional<std::uint64_t> plan_tokenizer(const MergeJob& job, storage::OutputSpec& output, const mpi::Comm& comm) {
  if (job.tokenizer_source.empty() && job.chat_template.empty()) return std::nullopt;
  std::uint64_t tokens = 0;
  std::string tokenizer_from, chat_template;
  mpi::run_agreed(comm, [&] {
    const std::string key = job.tokenizer_source.empty() ? "chat_template" : "tokenizer_source";
    if (output.format != storage::Format::hf_directory)
      throw UsageError(key + " writes tokenizer files, which need a Hugging Face directory output (an --output "
                       "without extension), not " + (output.format == storage::Format::hdf5 ? std::string("an HDF5 file")
                                                                                                 : std::string("one .safetensors file")));
    const std::vector<std::string> inputs = job_checkpoints(job);
    const std::string reference = job.base ? *job.base : inputs.front();
    tokenizer_from = directory_of(reference, key);
    if (!job.tokenizer_source.empty() && job.tokenizer_source != "base" && job.tokenizer_source != "union")
      tokenizer_from = directory_of(job.tokenizer_source, key);
    if (!comm.is_root()) return;
    if (!job.tokenizer_source.empty()) {
      // The chosen tokenizer's vocabulary against every model's: the same tokens at the same ids.
      const auto chosen = read_vocabulary((fs::path(tokenizer_from) / "tokenizer.json").string());
      for (const std::string& input : inputs) {
        const std::string file = (fs::path(directory_of(input, key)) / "tokenizer.json").string();
        if (!fs::exists(file)) throw InputError(key + ": " + input + " has no tokenizer.json (vocabularies are read from it)");
        const auto vocab = read_vocabulary(file);
        if (vocab == chosen) continue;
        // The first token (in string order) that one has and the other lacks, or at another id.
        const std::map<std::string, std::uint64_t> theirs(chosen.begin(), chosen.end()), ours(vocab.begin(), vocab.end());
        std::string difference = std::to_string(vocab.size()) + " tokens against " + std::to_string(chosen.size());
        for (const auto& [token, id] : vocab) {
          const auto it = theirs.find(token);
          if (it == theirs.end()) {
            difference += "; it has '" + token + "' (id " + std::to_string(id) + "), which " + tokenizer_from + " lacks";
            break;
          }
          if (it->second != id) {
            difference += "; '" + token + "' is id " + std::to_string(id) + " against " + std::to_string(it->second);
            break;
          }
        }
        if (vocab.size() <= chosen.size())
          for (const auto& [token, id] : chosen)
            if (!ours.count(token)) {
              difference += "; it lacks '" + token + "' (id " + std::to_string(id) + ")";
              break;
            }
        throw InputError(key + ": the vocabulary of " + input + " differs from " + tokenizer_from + "'s (" + difference +
                         "); mpimerge merges models of one vocabulary only (aligning embedding rows by token across "
                         "vocabularies, as mergekit's tokenizer surgery does, is not supported)");
      }
      for (const auto& [token, id] : chosen) tokens = std::max(tokens, id + 1);
      if (job.pad_to_multiple_of > 0 && tokens % job.pad_to_multiple_of != 0)
        throw UsageError("tokenizer: pad_to_multiple_of " + std::to_string(job.pad_to_multiple_of) + " would pad the " +
                         std::to_string(tokens) + " embedding rows, which mpimerge does not (it merges rows as they are)");
    }
    if (job.chat_template == "auto") {
      // mergekit: the template most of the models have (the first of those tied), if any.
      std::map<std::string, int> count;
      std::vector<std::string> order;
      for (const std::string& input : inputs) {
        std::string t = template_of(directory_of(input, key));
        t.erase(t.find_last_not_of(" \t\r\n") + 1);
        t.erase(0, t.find_first_not_of(" \t\r\n") == std::string::npos ? t.size() : t.find_first_not_of(" \t\r\n"));
        if (t.empty()) continue;
        if (count[t]++ == 0) order.push_back(t);
      }
      for (const std::string& t : order)
        if (chat_template.empty() || count[t] > count[chat_template]) chat_template = t;
    } else {
      chat_template = job.chat_template;
    }
  });
  comm.broadcast(chat_template);
  std::uint64_t agreed = comm.is_root() ? tokens : 0;
  agreed = comm.max(agreed);
  output.tokenizer_from = tokenizer_from;
  output.chat_template = chat_template;
  return job.tokenizer_source.empty() ? std::nullopt : std::optional(agreed);
}

void check_embedding_rows(std::uint64_t tokens, const MergePlan& plan) {
  for (const PlannedTensor& t : plan.tensors) {
    const std::string& name = t.output.name;
    const bool rows_are_tokens = name.find("embed_tokens") != std::string::npos || name.find("wte") != std::string::npos ||
                                 name == "lm_head.weight";
    if (rows_are_tokens && !t.output.shape.empty() && t.output.shape[0] != tokens)
      throw InputError("tokenizer_source: '" + name + "' has " + std::to_string(t.output.shape[0]) + " rows for " +
                       std::to_string(tokens) + " tokens; mergekit would resize it to the vocabulary, which mpimerge "
                       "does not (merge without tokenizer_source to keep every row)");
  }
}

}  // namespace mpimerge
