#include "pipeline/vocabulary.hpp"

#include <algorithm>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {
using Json = nlohmann::ordered_json;

bool is_id(const Json& j) { return j.is_number_unsigned() || (j.is_number_integer() && j.get<std::int64_t>() >= 0); }

// The tokenizers library's model size after additions: added tokens take the next id after the
// largest added one when that is at or past the model's vocabulary, else the model's size
// (tokenizers, added_vocabulary.rs: AddedVocabulary::add_tokens).
std::uint64_t next_added_id(std::uint64_t model_tokens, const std::map<std::string, std::uint64_t>& ids,
                            const std::set<std::string>& added) {
  std::optional<std::uint64_t> largest;
  for (const std::string& token : added) largest = std::max(largest.value_or(0), ids.at(token));
  if (largest && (*largest >= model_tokens || model_tokens == 0)) return *largest + 1;
  return model_tokens;
}

// The tokens of a merge rule: "a b" or ["a", "b"] (tokenizers writes both, by version).
std::vector<std::string> merge_tokens(const Json& rule, const std::string& file) {
  if (rule.is_string()) {
    const std::string text = rule.get<std::string>();
    const auto space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
      throw InputError(file + ": model.merges holds '" + text + "', not two tokens separated by one space");
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (rule.is_array() && rule.size() == 2 && rule[0].is_string() && rule[1].is_string())
    return {rule[0].get<std::string>(), rule[1].get<std::string>()};
  throw InputError(file + ": model.merges holds " + rule.dump().substr(0, 80) + ", not a pair of tokens");
}

// get_stripped_tokenizer: the tokens at ids the model has no row for are dropped, from the
// vocabulary, the added tokens and the merge rules. Returns whether anything was dropped.
bool strip_unused(Vocabulary& v) {
  std::set<std::string> unused;
  for (const auto& [token, id] : v.ids)
    if (id >= v.usable) unused.insert(token);
  if (unused.empty()) return false;
  Json& model = v.json["model"];
  Json& vocab = model["vocab"];
  if (vocab.is_object()) {
    for (const std::string& token : unused) vocab.erase(token);
    v.model_tokens = vocab.size();
    if (model.contains("merges")) {
      if (!model["merges"].is_array()) throw InputError(v.file + ": model.merges is not a list");
      Json kept = Json::array();
      for (const Json& rule : model["merges"]) {
        const auto pair = merge_tokens(rule, v.file);
        if (!unused.count(pair[0]) && !unused.count(pair[1])) kept.push_back(rule);
      }
      model["merges"] = std::move(kept);
    }
  } else {  // Unigram: a token's id is its place in the list, so only a tail can go
    if (vocab.size() > v.usable) vocab.erase(vocab.begin() + static_cast<std::ptrdiff_t>(v.usable), vocab.end());
    v.model_tokens = vocab.size();
  }
  if (v.json.contains("added_tokens")) {
    Json kept = Json::array();
    for (const Json& t : v.json["added_tokens"])
      if (t["id"].get<std::uint64_t>() < v.usable) kept.push_back(t);
    v.json["added_tokens"] = std::move(kept);
  }
  for (const std::string& token : unused) {
    v.ids.erase(token);
    v.added.erase(token);
  }
  return true;
}

// tokenizer_config.json's added_tokens_decoder (id -> settings, as transformers writes it) made to
// match the output's added tokens. Returns "" when the file has none to update.
std::string config_for(std::string_view config_text, const std::string& file, const Json& added_tokens) {
  if (config_text.empty()) return "";
  Json config = Json::parse(config_text.begin(), config_text.end(), nullptr, false);
  if (config.is_discarded() || !config.is_object())
    throw InputError(file + ": tokenizer_config.json is not a JSON object");
  if (!config.contains("added_tokens_decoder")) return "";
  Json decoder = Json::object();
  for (const Json& t : added_tokens) {
    Json entry = t;
    entry.erase("id");
    decoder[std::to_string(t["id"].get<std::uint64_t>())] = std::move(entry);
  }
  config["added_tokens_decoder"] = std::move(decoder);
  return config.dump(2) + "\n";
}

// A token as transformers' add_tokens adds a plain string: not special, normalized.
Json plain_token(const std::string& token) {
  return Json{{"id", 0}, {"content", token}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
              {"normalized", true}, {"special", false}};
}

// tokenizers' AddedVocabulary::add_tokens: a token the vocabulary has keeps its id (and becomes an
// added token); a new one takes the next id.
void add_token(Vocabulary& v, const std::string& token, Json entry) {
  if (!v.json.contains("added_tokens") || !v.json["added_tokens"].is_array()) v.json["added_tokens"] = Json::array();
  const auto known = v.ids.find(token);
  const std::uint64_t id = known != v.ids.end() ? known->second : next_added_id(v.model_tokens, v.ids, v.added);
  entry["id"] = id;
  v.json["added_tokens"].push_back(std::move(entry));
  v.ids[token] = id;
  v.added.insert(token);
}

}  // namespace

std::optional<std::uint64_t> config_vocab_size(std::string_view config_json, const std::string& file) {
  const Json config = Json::parse(config_json.begin(), config_json.end(), nullptr, false);
  if (config.is_discarded() || !config.is_object()) throw InputError(file + ": not a JSON object");
  const auto it = config.find("vocab_size");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (!is_id(*it)) throw InputError(file + ": vocab_size is not a non-negative integer");
  return it->get<std::uint64_t>();
}

Vocabulary parse_vocabulary(std::string_view text, const std::string& file, std::optional<std::uint64_t> config_size) {
  Vocabulary v;
  v.file = file;
  try {
    v.json = Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file + ": not valid JSON (" + e.what() + ")");
  }
  if (!v.json.is_object()) throw InputError(file + ": not a JSON object");
  const auto model = v.json.find("model");
  if (model == v.json.end() || !model->is_object() || !model->contains("vocab"))
    throw InputError(file + ": no model.vocab (expected a tokenizers library tokenizer.json)");
  const Json& vocab = (*model)["vocab"];
  if (vocab.is_object()) {  // BPE, WordLevel, WordPiece: token -> id
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!is_id(it.value())) throw InputError(file + ": the id of token '" + it.key() + "' is not a non-negative integer");
      v.ids[it.key()] = it.value().get<std::uint64_t>();
    }
  } else if (vocab.is_array()) {  // Unigram: [token, score] at its id
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      if (!vocab[i].is_array() || vocab[i].empty() || !vocab[i][0].is_string())
        throw InputError(file + ": model.vocab entry " + std::to_string(i) + " is not [token, score]");
      v.ids[vocab[i][0].get<std::string>()] = i;
    }
  } else {
    throw InputError(file + ": model.vocab is neither a mapping nor a list");
  }
  v.model_tokens = vocab.size();
  if (const auto added = v.json.find("added_tokens"); added != v.json.end() && !added->is_null()) {
    if (!added->is_array()) throw InputError(file + ": added_tokens is not a list");
    for (std::size_t i = 0; i < added->size(); ++i) {
      const Json& t = (*added)[i];
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id") || !is_id(t["id"]))
        throw InputError(file + ": added_tokens entry " + std::to_string(i) + " has no string content and integer id");
      v.ids[t["content"].get<std::string>()] = t["id"].get<std::uint64_t>();
      v.added.insert(t["content"].get<std::string>());
    }
  }
  v.usable = config_size.value_or(v.ids.size());
  return v;
}

TokenAlignment align_vocabularies(const std::vector<Vocabulary>& models, bool has_base, const VocabularyChoice& choice,
                                  std::string_view base_config_text) {
  if (models.empty()) throw InputError("tokenizer_source: no models");
  TokenAlignment out;
  // The tokenizer's base (mergekit: the base model, else the first model), stripped to its rows.
  Vocabulary result = models.front();
  const bool stripped = strip_unused(result);
  bool changed = stripped;
  // The vocabulary a token: model_token's token is looked up in (mergekit's original_vocabs: the
  // tokenizer's base stripped, every other model as it is).
  const std::map<std::string, std::uint64_t> stripped_ids = result.ids;
  std::string config_text(base_config_text);
  auto add = [&](const std::string& token, Json entry) {
    add_token(result, token, std::move(entry));
    changed = true;
  };
  if (choice.source == VocabularyChoice::Source::model) {
    result = *choice.model;
    changed = false;
    config_text = choice.model_config_text;
  } else if (choice.source == VocabularyChoice::Source::union_of_models) {
    // build_union_tokenizer, in a fixed order where mergekit's follows a set's and a hash map's:
    // the models in the job's order (the base first), each model's tokens by id. Plain tokens a
    // model has below its vocab_size first, then every model's added tokens (the first settings
    // of each win), as mergekit adds them.
    std::vector<std::string> plain;
    std::set<std::string> plain_seen;
    std::vector<std::pair<std::string, const Json*>> added;
    std::set<std::string> added_seen;
    for (std::size_t m = 0; m < models.size(); ++m) {
      const Vocabulary& v = m == 0 ? result : models[m];
      std::vector<std::pair<std::uint64_t, std::string>> by_id;
      for (const auto& [token, id] : v.ids)
        if (id < v.usable) by_id.emplace_back(id, token);
      std::sort(by_id.begin(), by_id.end());
      for (const auto& [id, token] : by_id)
        if (!v.added.count(token) && plain_seen.insert(token).second) plain.push_back(token);
      std::vector<std::pair<std::uint64_t, const Json*>> entries;
      if (v.json.contains("added_tokens"))
        for (const Json& t : v.json["added_tokens"])
          if (t["id"].get<std::uint64_t>() < v.usable) entries.emplace_back(t["id"].get<std::uint64_t>(), &t);
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [id, t] : entries)
        if (added_seen.insert((*t)["content"].get<std::string>()).second)
          added.emplace_back((*t)["content"].get<std::string>(), t);
    }
    const std::map<std::string, std::uint64_t> base_ids = result.ids;
    for (const std::string& token : plain)
      if (!added_seen.count(token) && !base_ids.count(token)) add(token, plain_token(token));
    for (const auto& [token, entry] : added)
      if (!result.added.count(token)) add(token, *entry);
  }
  // The tokenizer block's tokens, as transformers' add_tokens adds plain text (build_tokenizer).
  for (const AddedTokenRow& t : choice.tokens)
    if (!result.added.count(t.token)) add(t.token, plain_token(t.token));

  // The output's vocabulary, by id: mergekit sizes the embeddings by its token count and indexes
  // rows by id, so the ids must be 0 .. count-1.
  const std::uint64_t count = result.ids.size();
  if (count == 0) throw InputError(result.file + ": the tokenizer has no tokens");
  out.tokens.assign(count, std::string());
  std::vector<bool> seen(count, false);
  for (const auto& [token, id] : result.ids) {
    if (id >= count || seen[id])
      throw InputError(result.file + ": the tokenizer's ids are not 0.." + std::to_string(count - 1) + " each once (token '" +
                       token + "' has id " + std::to_string(id) + "), so its tokens cannot be embedding rows");
    seen[id] = true;
    out.tokens[id] = token;
  }
  out.rows = count;
  if (choice.pad_to_multiple_of > 0 && count % choice.pad_to_multiple_of != 0)
    out.rows = (count / choice.pad_to_multiple_of + 1) * choice.pad_to_multiple_of;

  // Each model's row of every output token (build_tokenizer's permutations): a token at an id the
  // model has no row for counts as absent.
  for (const Vocabulary& v : models) {
    std::vector<std::int64_t> rows(count, -1);
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto it = v.ids.find(out.tokens[i]);
      if (it != v.ids.end() && it->second < v.usable) rows[i] = static_cast<std::int64_t>(it->second);
    }
    out.source_rows.push_back(std::move(rows));
  }
  out.defaults.resize(count);
  // The tokenizer block's tokens take their configured rows (PermutedEmbeddings' token_configs).
  std::map<std::string, const AddedTokenRow*> configured;
  for (const AddedTokenRow& t : choice.tokens) configured[t.token] = &t;
  std::vector<std::uint64_t> forced;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto c = configured.find(out.tokens[i]);
    if (c == configured.end()) continue;
    const AddedTokenRow& t = *c->second;
    if (t.force) forced.push_back(i);
    if (t.kind == TokenRowSource::Kind::zero) continue;  // defaults[i] is zero
    if (t.model >= models.size()) throw InputError("tokenizer tokens '" + t.token + "': no such model");
    const Vocabulary& v = models[t.model];
    std::uint64_t row = 0;
    if (t.kind == TokenRowSource::Kind::model) {
      if (out.source_rows[t.model][i] < 0)
        throw InputError("tokenizer tokens '" + t.token + "': its row comes from the model of " + v.file +
                         ", whose vocabulary lacks it (below its vocab_size)");
      row = static_cast<std::uint64_t>(out.source_rows[t.model][i]);
    } else if (t.token_id) {
      row = *t.token_id;
    } else {
      const std::map<std::string, std::uint64_t>& ids = t.model == 0 ? stripped_ids : v.ids;
      const auto it = ids.find(t.source_token);
      if (it == ids.end())
        throw InputError("tokenizer tokens '" + t.token + "': its row is that of '" + t.source_token + "' in " + v.file +
                         ", whose vocabulary lacks it");
      row = it->second;
    }
    out.defaults[i] = {DefaultRow::Kind::row, t.model, row};
  }
  // assign_embedding_sources: a token only one model has comes from it; one no model has is zero;
  // else the base's row where the base has it; else the average of the models that have it.
  for (std::uint64_t i = 0; i < count; ++i) {
    if (configured.count(out.tokens[i])) continue;
    std::size_t present = 0, donor = 0;
    for (std::size_t m = 0; m < models.size(); ++m)
      if (out.source_rows[m][i] >= 0 && present++ == 0) donor = m;
    if (present == 1) out.defaults[i] = {DefaultRow::Kind::model, donor};
    else if (present == 0) out.defaults[i] = {DefaultRow::Kind::zero, 0};
    else if (has_base && out.source_rows[0][i] >= 0) out.defaults[i] = {DefaultRow::Kind::model, 0};
    else out.defaults[i] = {DefaultRow::Kind::average, 0};
  }
  for (const std::uint64_t i : forced)
    for (auto& rows : out.source_rows) rows[i] = -1;
  out.identity = out.rows == count;
  for (const auto& rows : out.source_rows)
    for (std::uint64_t i = 0; i < count && out.identity; ++i) out.identity = rows[i] == static_cast<std::int64_t>(i);
  if (changed) {
    out.tokenizer_json = result.json.dump(2) + "\n";
    const Json none = Json::array();
    const auto added = result.json.find("added_tokens");
    out.tokenizer_config_json = config_for(config_text, result.file, added != result.json.end() && added->is_array() ? *added : none);
  }
  return out;
}

}  // namespace mpimerge
