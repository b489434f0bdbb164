// Vocabularies aligned across models as mergekit's tokenizer surgery aligns them
// (tokenizer/build.py, tokenizer/embed.py), and malformed tokenizer.json refused with the reason.
#include "pipeline/vocabulary.hpp"

#include <gtest/gtest.h>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

// A WordLevel tokenizer.json: vocab tokens at ids 0.., then added tokens after them.
std::string tokenizer(const std::vector<std::string>& vocab, const std::vector<std::string>& added = {},
                      std::uint64_t first_added = 0) {
  nlohmann::ordered_json j;
  j["added_tokens"] = nlohmann::ordered_json::array();
  const std::uint64_t start = first_added ? first_added : vocab.size();
  for (std::size_t i = 0; i < added.size(); ++i)
    j["added_tokens"].push_back({{"id", start + i}, {"content", added[i]}, {"single_word", false}, {"lstrip", false},
                                 {"rstrip", false}, {"normalized", false}, {"special", true}});
  j["model"]["type"] = "WordLevel";
  j["model"]["vocab"] = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < vocab.size(); ++i) j["model"]["vocab"][vocab[i]] = i;
  return j.dump();
}

Vocabulary vocab(const std::string& text, std::optional<std::uint64_t> size = std::nullopt) {
  return parse_vocabulary(text, "t.json", size);
}

VocabularyChoice choose(VocabularyChoice::Source s, std::uint64_t pad = 0) {
  VocabularyChoice c;
  c.source = s;
  c.pad_to_multiple_of = pad;
  return c;
}

TEST(Vocabulary, UnionAddsPlainTokensThenAddedOnesAfterTheBase) {
  const auto base = vocab(tokenizer({"a", "b", "c"}, {"<s>"}));
  const auto grown = vocab(tokenizer({"a", "b", "c"}, {"<s>", "<tool>"}));
  const auto other = vocab(tokenizer({"c", "a", "x"}));  // reordered, lacks b, has x
  const TokenAlignment a = align_vocabularies({base, grown, other}, true, choose(VocabularyChoice::Source::union_of_models), "");
  EXPECT_EQ(a.tokens, (std::vector<std::string>{"a", "b", "c", "<s>", "x", "<tool>"}));
  EXPECT_EQ(a.rows, 6u);
  EXPECT_FALSE(a.identity);
  EXPECT_EQ(a.source_rows[0], (std::vector<std::int64_t>{0, 1, 2, 3, -1, -1}));
  EXPECT_EQ(a.source_rows[1], (std::vector<std::int64_t>{0, 1, 2, 3, -1, 4}));
  EXPECT_EQ(a.source_rows[2], (std::vector<std::int64_t>{1, -1, 0, -1, 2, -1}));
  // b: base and grown have it, the base's row; x and <tool>: their only model's; none lacks a-c.
  EXPECT_EQ(a.defaults[1].kind, DefaultRow::Kind::model);
  EXPECT_EQ(a.defaults[1].model, 0u);
  EXPECT_EQ(a.defaults[4].kind, DefaultRow::Kind::model);
  EXPECT_EQ(a.defaults[4].model, 2u);
  EXPECT_EQ(a.defaults[5].model, 1u);
  // The union's tokenizer.json holds the new tokens as added tokens at their ids.
  const auto written = vocab(a.tokenizer_json);
  EXPECT_EQ(written.ids.at("x"), 4u);
  EXPECT_EQ(written.ids.at("<tool>"), 5u);
  EXPECT_EQ(written.added, (std::set<std::string>{"<s>", "x", "<tool>"}));
}

TEST(Vocabulary, WithoutABaseTheModelsThatHaveATokenAreAveraged) {
  const auto m1 = vocab(tokenizer({"a", "b"}));
  const auto m2 = vocab(tokenizer({"a", "b"}));
  const auto m3 = vocab(tokenizer({"a", "z"}));
  const TokenAlignment a = align_vocabularies({m1, m2, m3}, false, choose(VocabularyChoice::Source::base), "");
  EXPECT_EQ(a.tokens, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(a.defaults[1].kind, DefaultRow::Kind::average);
  EXPECT_TRUE(a.tokenizer_json.empty());  // the base's files as they are
}

TEST(Vocabulary, TokensPastConfigVocabSizeAreStrippedFromTheBase) {
  const auto base = vocab(tokenizer({"a", "b"}, {"<pad>"}), 2);
  const TokenAlignment a = align_vocabularies({base}, true, choose(VocabularyChoice::Source::base, 4), "");
  EXPECT_EQ(a.tokens, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(a.rows, 4u);  // padded to a multiple of 4
  EXPECT_FALSE(a.identity);
  EXPECT_EQ(vocab(a.tokenizer_json).ids.count("<pad>"), 0u);
}

TEST(Vocabulary, SameVocabulariesAreTheIdentity) {
  const auto v = vocab(tokenizer({"a", "b"}, {"<s>"}));
  const TokenAlignment a = align_vocabularies({v, v}, true, choose(VocabularyChoice::Source::union_of_models), "");
  EXPECT_TRUE(a.identity);
  EXPECT_TRUE(a.tokenizer_json.empty());
}

TEST(Vocabulary, TokenizerConfigAddedTokensFollowTheUnion) {
  const auto base = vocab(tokenizer({"a"}, {"<s>"}));
  const auto other = vocab(tokenizer({"a"}, {"<s>", "<t>"}));
  const std::string config = R"({"added_tokens_decoder": {"1": {"content": "<s>", "special": true}}, "x": 1})";
  const TokenAlignment a = align_vocabularies({base, other}, true, choose(VocabularyChoice::Source::union_of_models), config);
  const auto written = nlohmann::json::parse(a.tokenizer_config_json);
  EXPECT_EQ(written["added_tokens_decoder"]["2"]["content"], "<t>");
  EXPECT_FALSE(written["added_tokens_decoder"]["2"].contains("id"));
  EXPECT_EQ(written["x"], 1);
}

// tokenizer: tokens (mergekit's TokenEmbeddingConfig): each token joins the vocabulary as transformers'
// add_tokens adds it, and takes its configured row instead of assign_embedding_sources' default;
// force replaces it in every model.
TEST(Vocabulary, ConfiguredTokensTakeTheirRowsAndForceReplacesThemEverywhere) {
  const auto base = vocab(tokenizer({"a", "b", "c"}, {"<s>"}), 4);
  const auto chat = vocab(tokenizer({"a", "b", "c"}, {"<s>", "<im>", "<end>"}), 6);
  VocabularyChoice c = choose(VocabularyChoice::Source::base);
  c.tokens = {{"<im>", TokenRowSource::Kind::model, 1, std::nullopt, "", false},
              {"<end>", TokenRowSource::Kind::zero, 0, std::nullopt, "", false},
              {"<new>", TokenRowSource::Kind::model_token, 0, std::nullopt, "<s>", false},
              {"b", TokenRowSource::Kind::model_token, 1, 2, "", true}};
  const TokenAlignment a = align_vocabularies({base, chat}, true, c, "");
  EXPECT_EQ(a.tokens, (std::vector<std::string>{"a", "b", "c", "<s>", "<im>", "<end>", "<new>"}));
  EXPECT_EQ(a.source_rows[0], (std::vector<std::int64_t>{0, -1, 2, 3, -1, -1, -1}));  // b forced
  EXPECT_EQ(a.source_rows[1], (std::vector<std::int64_t>{0, -1, 2, 3, 4, 5, -1}));
  EXPECT_EQ(a.defaults[4].kind, DefaultRow::Kind::row);  // chat's own row of <im>
  EXPECT_EQ(a.defaults[4].model, 1u);
  EXPECT_EQ(a.defaults[4].row, 4u);
  EXPECT_EQ(a.defaults[5].kind, DefaultRow::Kind::zero);  // not chat's row, which only chat has
  EXPECT_EQ(a.defaults[6].kind, DefaultRow::Kind::row);  // the base's row of <s>
  EXPECT_EQ(a.defaults[6].model, 0u);
  EXPECT_EQ(a.defaults[6].row, 3u);
  EXPECT_EQ(a.defaults[1].kind, DefaultRow::Kind::row);  // row 2 of chat, in both models
  EXPECT_EQ(a.defaults[1].row, 2u);
  EXPECT_FALSE(a.identity);
  // The written tokenizer holds the new tokens as plain added tokens; "b", already a token, keeps
  // its id and becomes an added one too (tokenizers' add_tokens).
  const auto written = vocab(a.tokenizer_json);
  EXPECT_EQ(written.ids.at("<im>"), 4u);
  EXPECT_EQ(written.ids.at("<new>"), 6u);
  EXPECT_EQ(written.ids.at("b"), 1u);
  EXPECT_EQ(written.added, (std::set<std::string>{"<s>", "<im>", "<end>", "<new>", "b"}));
  // A source whose vocabulary lacks the token, or the token it names, is refused with the reason.
  c.tokens = {{"<im>", TokenRowSource::Kind::model, 0, std::nullopt, "", false}};
  EXPECT_THROW(align_vocabularies({base, chat}, true, c, ""), InputError);
  c.tokens = {{"<im>", TokenRowSource::Kind::model_token, 0, std::nullopt, "<nope>", false}};
  EXPECT_THROW(align_vocabularies({base, chat}, true, c, ""), InputError);
}

TEST(Vocabulary, MalformedFilesAreRefusedWithTheReason) {
  auto message = [](const std::string& text) {
    try {
      parse_vocabulary(text, "t.json", std::nullopt);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("{").rfind("t.json: not valid JSON ([json.exception.parse_error.101] parse error at line 1, column 2", 0), 0u)
      << message("{");
  EXPECT_EQ(message("[]"), "t.json: not a JSON object");
  EXPECT_EQ(message(R"({"model": {}})"), "t.json: no model.vocab (expected a tokenizers library tokenizer.json)");
  EXPECT_EQ(message(R"({"model": {"vocab": {"a": -1}}})"), "t.json: the id of token 'a' is not a non-negative integer");
  EXPECT_EQ(message(R"({"model": {"vocab": 3}})"), "t.json: model.vocab is neither a mapping nor a list");
  EXPECT_EQ(message(R"({"model": {"vocab": [["a"], 5]}})"), "t.json: model.vocab entry 1 is not [token, score]");
  EXPECT_EQ(message(R"({"model": {"vocab": {}}, "added_tokens": {}})"), "t.json: added_tokens is not a list");
  EXPECT_EQ(message(R"({"model": {"vocab": {}}, "added_tokens": [{"id": 1}]})"),
            "t.json: added_tokens entry 0 has no string content and integer id");
  // ids with a hole cannot be embedding rows (below vocab_size: without one, b would be stripped)
  const auto holes = vocab(R"({"model": {"vocab": {"a": 0, "b": 2}}})", 3);
  try {
    align_vocabularies({holes}, true, choose(VocabularyChoice::Source::base), "");
    ADD_FAILURE() << "ids with a hole were accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "t.json: the tokenizer's ids are not 0..1 each once (token 'b' has id 2), so its tokens "
                           "cannot be embedding rows");
  }
  EXPECT_THROW(align_vocabularies({holes}, true, choose(VocabularyChoice::Source::base), ""), InputError);
  // a merge rule that is not two tokens, met while stripping
  const auto bad_merges = vocab(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b c"]}})", 1);
  EXPECT_THROW(align_vocabularies({bad_merges}, true, choose(VocabularyChoice::Source::base), ""), InputError);
  EXPECT_THROW(config_vocab_size(R"({"vocab_size": "x"})", "c.json"), InputError);
  EXPECT_EQ(config_vocab_size(R"({"vocab_size": 7})", "c.json"), 7u);
  EXPECT_EQ(config_vocab_size(R"({"a": 7})", "c.json"), std::nullopt);
}

}  // namespace
}  // namespace mpimerge
