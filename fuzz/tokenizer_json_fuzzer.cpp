// Fuzzes parse_vocabulary (a model's tokenizer.json) and align_vocabularies over it: the input as
// the base's tokenizer with a vocab_size cut (so that stripping runs), against a second vocabulary,
// for every tokenizer source, with tokens added from either model (tokenizer: tokens). Whatever the bytes, only mpimerge::Error may escape; an alignment
// that succeeds must give one row per token and a tokenizer.json that parses back to its tokens.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mpimerge/error.hpp"
#include "pipeline/vocabulary.hpp"

using namespace mpimerge;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string other = R"({"model": {"type": "WordLevel", "vocab": {"a": 0, "b": 1}},
                                "added_tokens": [{"id": 2, "content": "<s>", "special": true}]})";
  try {
    const Vocabulary v = parse_vocabulary(text, "fuzz.json", std::nullopt);
    const Vocabulary cut = parse_vocabulary(text, "fuzz.json", v.ids.size() / 2);
    const Vocabulary w = parse_vocabulary(other, "other.json", std::nullopt);
    for (const auto source : {VocabularyChoice::Source::base, VocabularyChoice::Source::union_of_models,
                              VocabularyChoice::Source::model}) {
      VocabularyChoice choice;
      choice.source = source;
      choice.pad_to_multiple_of = 3;
      if (source == VocabularyChoice::Source::model) choice.model = v;
      choice.tokens = {{"<new>", TokenRowSource::Kind::model_token, 0, std::nullopt, "a", false},
                       {"a", TokenRowSource::Kind::model, 1, std::nullopt, "", true},
                       {"b", TokenRowSource::Kind::model_token, 0, 1, "", false}};
      try {
        const TokenAlignment a = align_vocabularies({cut, w}, true, choice, R"({"added_tokens_decoder": {}})");
        if (a.rows < a.tokens.size() || a.source_rows.size() != 2 || a.defaults.size() != a.tokens.size()) std::abort();
        for (const DefaultRow& d : a.defaults)
          if (d.model > 1) std::abort();
        if (!a.tokenizer_json.empty() &&
            parse_vocabulary(a.tokenizer_json, "written.json", std::nullopt).ids.size() != a.tokens.size())
          std::abort();
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
