// Where a safetensors output puts each tensor (Hugging Face's shard rule, the reference writer's
// order), the index file both ways, sizes as Hugging Face spells them, and the model files.
#include <gtest/gtest.h>

#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "storage/safetensors/index.hpp"
#include "storage/safetensors/layout.hpp"
#include "storage/safetensors/model_files.hpp"

namespace mpimerge::storage::safetensors {
namespace {

std::vector<TensorInfo> of_sizes(const std::vector<std::uint64_t>& bytes) {
  std::vector<TensorInfo> out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string name = "t";
    name += std::to_string(i);  // (not "t" + ...: g++ 12 warns falsely about that under -O2)
    out.push_back({name, DType::u8, {bytes[i]}});
  }
  return out;
}

using Shards = std::vector<std::vector<std::size_t>>;

TEST(SafetensorsLayout, SplitsAsHuggingFaceDoes) {
  // huggingface_hub's docstring example: [6, 6, 2, 6, 2, 2] GB with a 10 GB limit.
  EXPECT_EQ(split_into_shards(of_sizes({6, 6, 2, 6, 2, 2}), 10), (Shards{{0}, {1, 2}, {3, 4, 5}}));
  // A tensor over the limit gets its own shard at once; the open shard goes on after it.
  EXPECT_EQ(split_into_shards(of_sizes({2, 12, 3, 5}), 10), (Shards{{1}, {0, 2, 3}}));
  // Exactly the limit fits; empty tensors never split.
  EXPECT_EQ(split_into_shards(of_sizes({5, 5, 0, 1}), 10), (Shards{{0, 1, 2}, {3}}));
  EXPECT_EQ(split_into_shards({}, 10), (Shards{{}}));
}

TEST(SafetensorsLayout, NamesShardsWithFiveDigits) {
  EXPECT_EQ(shard_file_name(0, 1), "model.safetensors");
  EXPECT_EQ(shard_file_name(0, 3), "model-00001-of-00003.safetensors");
  EXPECT_EQ(shard_file_name(11, 12), "model-00012-of-00012.safetensors");
}

TEST(SafetensorsLayout, LaysOutEachFileByDtypeThenName) {
  const std::vector<TensorInfo> tensors = {
      {"z", DType::bf16, {3}}, {"a", DType::bf16, {2}}, {"m", DType::f32, {1}}, {"i", DType::i64, {1}}, {"u", DType::u8, {5}}};
  const FileLayout layout = plan_files(tensors, 1000);
  ASSERT_EQ(layout.files.size(), 1u);
  EXPECT_EQ(layout.files[0].name, "model.safetensors");
  EXPECT_EQ(layout.files[0].tensors, (std::vector<std::size_t>{3, 2, 1, 0, 4}));  // I64, F32, BF16 a, BF16 z, U8
  const std::uint64_t start = layout.files[0].header.size();
  EXPECT_EQ(start % 8, 0u);
  EXPECT_EQ(layout.offset_of, (std::vector<std::uint64_t>{start + 16, start + 12, start + 8, start, start + 22}));
  EXPECT_EQ(layout.files[0].size, start + 27);
  EXPECT_EQ(layout.total_size, 27u);
  EXPECT_EQ(layout.total_parameters, 12u);

  // Limit 8 bytes, tensors of 6, 4, 4, 8, 5 bytes: [z] [a m] [i] [u].
  const FileLayout sharded = plan_files(tensors, 8);
  ASSERT_EQ(sharded.files.size(), 4u);
  EXPECT_EQ(sharded.files[0].name, "model-00001-of-00004.safetensors");
  EXPECT_EQ(sharded.file_of, (std::vector<std::size_t>{0, 1, 1, 2, 3}));
  EXPECT_EQ(sharded.files[1].tensors, (std::vector<std::size_t>{2, 1}));  // F32 m before BF16 a
  const FileLayout single = plan_files(tensors, 8, "out.safetensors");
  ASSERT_EQ(single.files.size(), 1u);
  EXPECT_EQ(single.files[0].name, "out.safetensors");
}

TEST(SafetensorsIndex, WritesWhatTransformersWrites) {
  EXPECT_EQ(index_json({{"b", "model-00002-of-00002.safetensors"}, {"a", "model-00001-of-00002.safetensors"}}, 24, 6),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_parameters\": 6,\n"
            "    \"total_size\": 24\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"a\": \"model-00001-of-00002.safetensors\",\n"
            "    \"b\": \"model-00002-of-00002.safetensors\"\n"
            "  }\n"
            "}\n");
}

std::string index_error(const std::string& text) {
  try {
    parse_index(text, "i.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(SafetensorsIndex, ParsesAndRejects) {
  const ShardIndex index = parse_index(R"({"metadata":{"total_size":10},"weight_map":{"x":"b.safetensors","y":"a.safetensors","z":"b.safetensors"}})", "i.json");
  EXPECT_EQ(index.total_size, 10u);
  EXPECT_EQ(index.weight_map.size(), 3u);
  EXPECT_EQ(index.shard_files(), (std::vector<std::string>{"a.safetensors", "b.safetensors"}));

  EXPECT_EQ(index_error("[").rfind("i.json: not valid JSON: ", 0), 0u);
  EXPECT_EQ(index_error("[]"), "i.json: not a JSON object");
  EXPECT_EQ(index_error("{}"), "i.json: no weight_map object (expected {\"weight_map\": {\"tensor\": \"file\", ...}})");
  EXPECT_EQ(index_error(R"({"metadata":1,"weight_map":{}})"), "i.json: metadata is not an object");
  EXPECT_EQ(index_error(R"({"metadata":{"total_size":-1},"weight_map":{}})"), "i.json: metadata.total_size is not a non-negative integer");
  EXPECT_EQ(index_error(R"({"weight_map":{"x":3}})"), "i.json: weight_map: tensor 'x' maps to something other than a file name");
  EXPECT_EQ(index_error(R"({"weight_map":{"x":"../b.safetensors"}})"),
            "i.json: weight_map: tensor 'x' maps to '../b.safetensors', which is not a file name in the directory");
  EXPECT_EQ(index_error(R"({"weight_map":{"x":".."}})"), "i.json: weight_map: tensor 'x' maps to '..', which is not a file name in the directory");
  EXPECT_EQ(index_error(R"({"weight_map":{"x":"a","x":"b"}})"), "i.json: tensor 'x' appears twice in weight_map");
}

// The index is read in one SAX pass (no document): what a JSON parser keeps must be what it keeps.
TEST(SafetensorsIndex, KeepsWhatAJsonParserKeeps) {
  // The file's order, not the keys' sorted order.
  ShardIndex index = parse_index(R"({"weight_map":{"z":"b","a":"a","m":"b"}})", "i.json");
  ASSERT_EQ(index.weight_map.size(), 3u);
  EXPECT_EQ(index.weight_map[0].first, "z");
  EXPECT_EQ(index.weight_map[2].first, "m");
  EXPECT_FALSE(index.total_size.has_value());
  // A root key listed twice: the last one counts, as a parser keeps it.
  index = parse_index(R"({"metadata":{"total_size":1},"weight_map":{"x":"a"},"metadata":{"total_size":7,"total_size":9},"weight_map":{"y":"b"}})", "i.json");
  EXPECT_EQ(index.total_size, 9u);
  ASSERT_EQ(index.weight_map.size(), 1u);
  EXPECT_EQ(index.weight_map[0], (std::pair<std::string, std::string>{"y", "b"}));
  EXPECT_EQ(index_error(R"({"metadata":{},"weight_map":{"x":"a"},"weight_map":3})"),
            "i.json: no weight_map object (expected {\"weight_map\": {\"tensor\": \"file\", ...}})");
  EXPECT_EQ(index_error(R"({"metadata":{"total_size":1},"metadata":[],"weight_map":{}})"), "i.json: metadata is not an object");
  // One tensor in two weight_maps is still listed twice.
  EXPECT_EQ(index_error(R"({"weight_map":{"x":"a"},"weight_map":{"x":"a"}})"), "i.json: tensor 'x' appears twice in weight_map");
  // Nested content elsewhere (and deep) is ignored; only weight_map's own keys are tensors.
  index = parse_index(R"({"metadata":{"format":"pt","deep":[[[[[[[[[[{"weight_map":{"q":1}}]]]]]]]]]]},)"
                      R"("other":{"weight_map":{"w":"c"}},"weight_map":{"x":"a"}})", "i.json");
  ASSERT_EQ(index.weight_map.size(), 1u);
  EXPECT_EQ(index.weight_map[0].first, "x");
  // The first bad value in the file's order; numbers that are not non-negative integers.
  EXPECT_EQ(index_error(R"({"weight_map":{"x":"a","y":{"z":"a"},"w":null}})"),
            "i.json: weight_map: tensor 'y' maps to something other than a file name");
  EXPECT_EQ(index_error(R"({"metadata":{"total_size":1.5},"weight_map":{}})"), "i.json: metadata.total_size is not a non-negative integer");
  EXPECT_EQ(index_error(R"({"metadata":{"total_size":"10"},"weight_map":{}})"), "i.json: metadata.total_size is not a non-negative integer");
  EXPECT_EQ(index_error(R"({"weight_map":{"x":"a"}} trailing)").rfind("i.json: not valid JSON: ", 0), 0u);
}

TEST(OutputFormat, FollowsThePathOrTheRequest) {
  EXPECT_EQ(output_format_for("m.h5"), Format::hdf5);
  EXPECT_EQ(output_format_for("m.hdf5"), Format::hdf5);
  EXPECT_EQ(output_format_for("m.safetensors"), Format::safetensors_file);
  EXPECT_EQ(output_format_for("merged/"), Format::hf_directory);
  EXPECT_EQ(output_format_for("merged"), Format::hf_directory);
  EXPECT_EQ(output_format_for("merged.out", "safetensors"), Format::hf_directory);
  EXPECT_EQ(output_format_for("m.safetensors", "safetensors"), Format::safetensors_file);
  EXPECT_EQ(output_format_for("m.bin", "hdf5"), Format::hdf5);
  EXPECT_THROW(output_format_for("m.bin"), UsageError);
  EXPECT_THROW(output_format_for("m.h5", "gguf"), UsageError);
}

TEST(ModelFiles, CarriesConfigTokenizerAndTemplatesNotWeights) {
  for (const char* yes : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json", "tokenizer.model", "spiece.model", "vocab.json", "merges.txt",
                          "added_tokens.json", "chat_template.jinja"})
    EXPECT_TRUE(is_model_file(yes)) << yes;
  for (const char* no : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "README.md",
                         "model-00001-of-00002.safetensors", "training_args.bin"})
    EXPECT_FALSE(is_model_file(no)) << no;
}

TEST(ModelFiles, SetsTheConfigDtypeItHas) {
  EXPECT_EQ(config_with_dtype(R"({"a": 1, "dtype": "bfloat16", "torch_dtype": "bfloat16", "z": 1e-06})", DType::f32, "c"),
            "{\n  \"a\": 1,\n  \"dtype\": \"float32\",\n  \"torch_dtype\": \"float32\",\n  \"z\": 1e-06\n}\n");
  EXPECT_EQ(config_with_dtype(R"({"torch_dtype": "float32"})", DType::f16, "c"), "{\n  \"torch_dtype\": \"float16\"\n}\n");
  EXPECT_EQ(config_with_dtype(R"({"x": 1})", DType::bf16, "c"), "{\n  \"x\": 1\n}\n");
  EXPECT_THROW(config_with_dtype("{", DType::bf16, "c"), InputError);
}

TEST(ModelFiles, AnOutputConfigNamesNoInputWeightsFile) {
  // transformers_weights named the input's weights file: the output's are model.safetensors or shards.
  EXPECT_EQ(config_for_output(R"({"a": 1, "transformers_weights": "other.safetensors"})", std::nullopt, "c"),
            "{\n  \"a\": 1\n}\n");
  EXPECT_EQ(config_for_output(R"({"torch_dtype": "float32", "transformers_weights": "w.safetensors"})", DType::bf16, "c"),
            "{\n  \"torch_dtype\": \"bfloat16\"\n}\n");
  EXPECT_EQ(config_for_output("{ \"a\":1 }", std::nullopt, "c"), "{ \"a\":1 }");  // nothing to change: as it is
  EXPECT_EQ(config_for_output("not json", std::nullopt, "c"), "not json");
}

}  // namespace
}  // namespace mpimerge::storage::safetensors
