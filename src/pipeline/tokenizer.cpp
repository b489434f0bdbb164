#include "pipeline/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "mpimerge/error.hpp"
#include "pipeline/vocabulary.hpp"

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

std::optional<TokenAlignment> plan_tokenizer(const MergeJob& job, storage::OutputSpec& output, const mpi::Comm& comm) {
  if (job.tokenizer.source.empty() && job.chat_template.empty()) return std::nullopt;
  std::string tokenizer_from, chat_template;
  // The inputs as the merge reads them (the base first, then the models; with slices, slice 1's
  // sources), whose rows are aligned; every other checkpoint the job names must share its input's
  // vocabulary (a later slice's source).
  std::vector<std::string> merged;
  if (job.slices.empty()) {
    if (job.base) merged.push_back(*job.base);
    merged.insert(merged.end(), job.models.begin(), job.models.end());
  } else {
    for (const auto& source : job.slices.front()) merged.push_back(source.path);
  }
  // Rank 0 reads every file; every rank parses the same bytes and builds the same alignment.
  // texts: per merged input, its tokenizer.json and config.json (the latter "" when absent); then
  // the chosen source's; then each later slice source's; then tokenizer_config.json of the source.
  std::vector<std::string> texts;
  const std::string key = job.tokenizer.source.empty() ? "chat_template" : "tokenizer_source";
  const bool aligned = !job.tokenizer.source.empty();
  const bool from_model = aligned && job.tokenizer.source != "base" && job.tokenizer.source != "union";
  std::vector<std::string> later;  // (slice source, its input's path) pairs, flattened
  for (std::size_t s = 1; s < job.slices.size(); ++s)
    for (std::size_t i = 0; i < job.slices[s].size() && i < merged.size(); ++i)
      if (job.slices[s][i].path != merged[i]) {
        later.push_back(job.slices[s][i].path);
        later.push_back(merged[i]);
      }
  mpi::run_agreed(comm, [&] {
    if (output.format != storage::Format::hf_directory)
      throw UsageError(key + " writes tokenizer files, which need a Hugging Face directory output (an --output "
                       "without extension), not " + (output.format == storage::Format::hdf5 ? std::string("an HDF5 file")
                                                                                                 : std::string("one .safetensors file")));
    const std::vector<std::string> inputs = job_checkpoints(job);
    const std::string reference = job.base ? *job.base : inputs.front();
    tokenizer_from = directory_of(reference, key);
    if (from_model) tokenizer_from = directory_of(job.tokenizer.source, key);
    if (!comm.is_root()) return;
    auto read_model = [&](const std::string& checkpoint) {
      const std::string dir = directory_of(checkpoint, key);
      const fs::path file = fs::path(dir) / "tokenizer.json", config = fs::path(dir) / "config.json";
      if (!fs::exists(file)) throw InputError(key + ": " + checkpoint + " has no tokenizer.json (vocabularies are read from it)");
      texts.push_back(read_file(file.string()));
      texts.push_back(fs::exists(config) ? read_file(config.string()) : std::string());
    };
    if (aligned) {
      for (const std::string& input : merged) read_model(input);
      if (from_model) read_model(job.tokenizer.source);
      for (std::size_t i = 0; i < later.size(); i += 2) read_model(later[i]);
      const fs::path config = fs::path(tokenizer_from) / "tokenizer_config.json";
      texts.push_back(fs::exists(config) ? read_file(config.string()) : std::string());
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
  output.tokenizer_from = tokenizer_from;
  output.chat_template = chat_template;
  if (!aligned) return std::nullopt;

  std::uint64_t count = texts.size();
  count = comm.max(count);
  texts.resize(count);
  for (std::string& text : texts) comm.broadcast(text);
  TokenAlignment alignment;
  mpi::run_agreed(comm, [&] {
    auto vocabulary = [&](std::size_t at, const std::string& checkpoint) {
      const std::string dir = directory_of(checkpoint, key);
      const std::string file = (fs::path(dir) / "tokenizer.json").string();
      const std::string& config = texts.at(2 * at + 1);
      return parse_vocabulary(texts.at(2 * at), file,
                              config.empty() ? std::nullopt : config_vocab_size(config, (fs::path(dir) / "config.json").string()));
    };
    std::vector<Vocabulary> vocabularies;
    for (std::size_t i = 0; i < merged.size(); ++i) vocabularies.push_back(vocabulary(i, merged[i]));
    std::size_t at = merged.size();
    VocabularyChoice choice;
    choice.pad_to_multiple_of = job.tokenizer.pad_to_multiple_of;
    choice.source = from_model ? VocabularyChoice::Source::model
                    : job.tokenizer.source == "union" ? VocabularyChoice::Source::union_of_models
                                                      : VocabularyChoice::Source::base;
    if (from_model) {
      choice.model = vocabulary(at++, job.tokenizer.source);
      choice.model_config_text = texts.back();
    }
    for (const auto& [token, source] : job.tokenizer.tokens) {
      AddedTokenRow added{token, source.kind, 0, source.token_id, source.token, source.force};
      if (source.kind != TokenRowSource::Kind::zero) {
        const auto it = std::find(merged.begin(), merged.end(), source.model);
        if (it == merged.end())
          throw UsageError("tokenizer tokens '" + token + "': its row comes from " + source.model +
                           ", which is not one of the merged checkpoints (base_model, models" +
                           std::string(job.slices.empty() ? "" : ", the first slice's sources") + ")");
        added.model = static_cast<std::size_t>(it - merged.begin());
      }
      choice.tokens.push_back(std::move(added));
    }
    for (std::size_t i = 0; i < later.size(); i += 2, ++at) {
      const Vocabulary v = vocabulary(at, later[i]);
      const auto input = std::find(merged.begin(), merged.end(), later[i + 1]) - merged.begin();
      const Vocabulary& theirs = vocabularies[static_cast<std::size_t>(input)];
      if (v.ids != theirs.ids || v.usable != theirs.usable)
        throw InputError(key + ": " + later[i] + " (a later slice's source) has another vocabulary than " + later[i + 1] +
                         ", the first slice's source in its place; mpimerge aligns one vocabulary per input");
    }
    alignment = align_vocabularies(vocabularies, job.base.has_value(), choice, from_model ? std::string_view() : std::string_view(texts.back()));
  });
  if (!alignment.tokenizer_json.empty()) {
    output.tokenizer_files.emplace_back("tokenizer.json", alignment.tokenizer_json);
    if (!alignment.tokenizer_config_json.empty())
      output.tokenizer_files.emplace_back("tokenizer_config.json", alignment.tokenizer_config_json);
  }
  output.config_vocab_size = alignment.rows;  // mergekit's _update_config_vocab
  return alignment;
}

}  // namespace mpimerge
