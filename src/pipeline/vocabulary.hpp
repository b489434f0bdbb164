#pragma once
// Vocabularies across models, as mergekit's tokenizer surgery builds them (tokenizer/build.py:
// get_stripped_tokenizer, build_union_tokenizer, build_tokenizer; tokenizer/embed.py:
// PermutedEmbeddings). Pure functions of the files' bytes: no MPI, no I/O, so every rank that parses
// the same bytes builds the same alignment, and a fuzzer can drive them.
//
// What comes out is, for the output's vocabulary, which row of each model every output row takes
// (or none: the model lacks the token), and where a model that lacks a token takes its row from
// (mergekit's assign_embedding_sources). The merge method then sees every model's rows permuted
// to the output's vocabulary, as in mergekit.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpimerge/job/job.hpp"

namespace mpimerge {

// One model's tokenizer.json, parsed (the tokenizers library's format: model.vocab, added_tokens).
struct Vocabulary {
  std::string file;                            // for messages
  nlohmann::ordered_json json;                 // the whole file, to write the output's from it
  std::map<std::string, std::uint64_t> ids;    // every token -> id: the model's vocabulary, then added tokens
  std::uint64_t model_tokens = 0;              // entries of model.vocab (the tokenizers library's model size)
  std::set<std::string> added;                 // contents of added_tokens
  // Ids below this are the model's rows (config.json's vocab_size, or the token count without one),
  // as mergekit's get_vocab_size.
  std::uint64_t usable = 0;
};

// Parses a tokenizer.json; config_vocab_size is config.json's vocab_size when it has one. Throws
// InputError naming the file for anything that is not a tokenizer.json mpimerge can align by.
Vocabulary parse_vocabulary(std::string_view tokenizer_json, const std::string& file,
                            std::optional<std::uint64_t> config_vocab_size);

// config.json's vocab_size (nullopt when it has none). Throws InputError for malformed JSON.
std::optional<std::uint64_t> config_vocab_size(std::string_view config_json, const std::string& file);

// Where a model that lacks an output token takes its row from (embed.py, assign_embedding_sources;
// for a token of the tokenizer block's tokens, its configured source).
struct DefaultRow {
  enum class Kind { zero, model, average, row } kind = Kind::zero;
  std::size_t model = 0;  // Kind::model: the only model that has it, or the base; Kind::row: the model
  std::uint64_t row = 0;  // Kind::row: that row of the model's token-row tensors
};

struct TokenAlignment {
  std::vector<std::string> tokens;  // the output's vocabulary, by id
  std::uint64_t rows = 0;           // embedding rows: tokens, padded up to pad_to_multiple_of
  // Per model (the order given: the base first when there is one): for each output token, the row
  // of that model holding it, or -1 where the model lacks it or a forced token (tokens: force)
  // replaces it.
  std::vector<std::vector<std::int64_t>> source_rows;
  std::vector<DefaultRow> defaults;  // per output token (used only where a model lacks it)
  // The output's tokenizer.json and tokenizer_config.json when they differ from the chosen source's
  // files (a stripped base, a union that added tokens); empty: the source's files are the output's.
  std::string tokenizer_json, tokenizer_config_json;
  // Whether every model holds exactly the output's rows, each at its own id: nothing to permute.
  bool identity = false;
};

// A token of the tokenizer block's tokens (job.hpp, TokenRowSource), its model as an index into
// align_vocabularies' models.
struct AddedTokenRow {
  std::string token;
  TokenRowSource::Kind kind = TokenRowSource::Kind::zero;
  std::size_t model = 0;
  std::optional<std::uint64_t> token_id;
  std::string source_token;
  bool force = false;
};

// How the output vocabulary is chosen: mergekit's tokenizer_source.
struct VocabularyChoice {
  enum class Source { base, union_of_models, model } source = Source::base;
  std::optional<Vocabulary> model;  // Source::model: that tokenizer, whole (not stripped, as mergekit)
  std::string model_config_text;    // Source::model: its tokenizer_config.json, if any
  std::uint64_t pad_to_multiple_of = 0;
  std::vector<AddedTokenRow> tokens;  // added to the vocabulary chosen, in this order
};

// models: the base first when has_base, then the models, in the job's order; base_config_text is the
// base's (or first model's) tokenizer_config.json text, "" when it has none. Throws InputError where
// mergekit would fail (a vocabulary with holes in its ids, a tokenizer that cannot be stripped).
TokenAlignment align_vocabularies(const std::vector<Vocabulary>& models, bool has_base, const VocabularyChoice& choice,
                                  std::string_view base_config_text);

}  // namespace mpimerge
