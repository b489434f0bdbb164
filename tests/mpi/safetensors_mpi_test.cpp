// The safetensors backend under MPI at this rank count: files written by the real Hugging Face
// libraries (../shared/fixtures) read exactly, HF -> HDF5 -> HF byte for byte, sharded output, a
// merge from safetensors equal bit for bit to the merge from HDF5, and every broken input refused
// with the same message on every rank.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "mpimerge/commands/convert.hpp"
#include "mpimerge/commands/merge.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "support/checkpoint_files.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

namespace fs = std::filesystem;
using testing::world;

const std::string kFixtures = MPIMERGE_FIXTURES;
const Log kSilent(false, true, std::cout);

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::uint8_t> hex(const std::string& text) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

// name -> bytes
std::map<std::string, testing::RawTensor> by_name(const std::string& path, std::vector<TensorInfo>* infos = nullptr) {
  testing::RawCheckpoint raw;
  const auto listed = testing::read_checkpoint(path, raw, world());
  if (infos) *infos = listed;
  std::map<std::string, testing::RawTensor> out;
  for (std::size_t i = 0; i < listed.size(); ++i) out[listed[i].name] = raw[i];
  return out;
}

void convert(const std::string& from, const std::string& to, const std::string& shard_size_bytes = "") {
  ConvertJob job;
  job.source = from;
  job.output = to;
  if (!shard_size_bytes.empty()) job.shard_bytes = std::stoull(shard_size_bytes);
  run_convert(job, world(), kSilent);
}

std::string agreed_error(const std::function<void()>& f) {
  try {
    mpi::run_agreed(world(), f);
  } catch (const AgreedError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Safetensors, ReadsTheDtypesFixtureExactly) {
  std::vector<TensorInfo> infos;
  const auto tensors = by_name(kFixtures + "/dtypes.safetensors", &infos);
  std::vector<std::string> names;
  for (const auto& t : infos) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"i64", "f64", "empty", "f32", "scalar", "bf16", "f16", "u8"}));
  EXPECT_EQ(infos[2], (TensorInfo{"empty", DType::f32, {0, 4}}));
  EXPECT_EQ(infos[4], (TensorInfo{"scalar", DType::f32, {}}));
  EXPECT_EQ(tensors.at("i64"), hex("010000000000000002000000000000000300000000000000"));
  EXPECT_EQ(tensors.at("f64"), hex("59f3f8c21f6ea5010000000000000040"));
  EXPECT_EQ(tensors.at("f32"), hex("000000000000803f0000004000004040000080400000a040"));
  EXPECT_EQ(tensors.at("scalar"), hex("00004040"));
  EXPECT_EQ(tensors.at("bf16"), hex("c03f00c05040"));
  EXPECT_EQ(tensors.at("f16"), hex("003800b4"));
  EXPECT_EQ(tensors.at("u8"), hex("0708"));
  EXPECT_TRUE(tensors.at("empty").empty());
}

TEST(Safetensors, ReadsAShardedDirectoryInShardOrder) {
  std::vector<TensorInfo> infos;
  by_name(kFixtures + "/llama-tiny-bf16/base", &infos);
  ASSERT_EQ(infos.size(), 21u);
  EXPECT_EQ(infos.front().name, "model.embed_tokens.weight");  // first of model-00001
  EXPECT_EQ(infos[15].name, "lm_head.weight");                 // first of model-00002
  auto reader = storage::open_checkpoint(kFixtures + "/llama-tiny-bf16/base/model.safetensors.index.json", world());
  EXPECT_EQ(reader->tensors(), infos);
  EXPECT_EQ(reader->describe(), "Hugging Face directory, 2 shards listed in model.safetensors.index.json");
}

TEST(Safetensors, HuggingFaceToHdf5AndBackIsByteIdentical) {
  testing::SharedTempDir dir(world());
  convert(kFixtures + "/llama-tiny-bf16/base", dir.file("base.h5"));
  convert(dir.file("base.h5"), dir.file("back"), "40000");  // the fixture's max_shard_size
  convert(kFixtures + "/dtypes.safetensors", dir.file("dtypes.h5"));
  convert(dir.file("dtypes.h5"), dir.file("dtypes.safetensors"));
  if (world().is_root()) {
    for (const char* name : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                             "model.safetensors.index.json"})
      EXPECT_EQ(file_bytes(dir.file("back/") + name), file_bytes(kFixtures + "/llama-tiny-bf16/base/" + name)) << name;
    EXPECT_EQ(file_bytes(dir.file("dtypes.safetensors")), file_bytes(kFixtures + "/dtypes.safetensors"));
  }
}

TEST(Safetensors, WritesShardedDirectoriesAndFilesOfEveryDtype) {
  testing::SharedTempDir dir(world());
  auto set = testing::random_checkpoint_set({});
  set.tensors.push_back({"flag", DType::boolean, {3}});
  set.base.push_back({1, 0, 1});
  set.tensors.push_back({"fp8.e4m3", DType::f8_e4m3, {2, 2}});
  set.base.push_back({0x38, 0xB8, 0x7E, 0x01});
  set.tensors.push_back({"fp8.e5m2", DType::f8_e5m2, {3}});
  set.base.push_back({0x3C, 0x7B, 0x80});
  storage::OutputSpec spec;
  spec.format = storage::Format::hf_directory;
  spec.shard_bytes = 64;
  testing::write_checkpoint(dir.file("hf"), spec, set.tensors, set.base, world());
  testing::write_checkpoint(dir.file("one.safetensors"), set.tensors, set.base, world());
  testing::write_checkpoint(dir.file("all.h5"), set.tensors, set.base, world());
  for (const char* out : {"hf", "one.safetensors", "all.h5"}) {
    std::vector<TensorInfo> infos;
    const auto back = by_name(dir.file(out), &infos);
    ASSERT_EQ(infos.size(), set.tensors.size()) << out;
    for (std::size_t i = 0; i < set.tensors.size(); ++i) {
      EXPECT_EQ(back.at(set.tensors[i].name), set.base[i]) << out << " " << set.tensors[i].name;
      if (std::string(out) == "all.h5") {
        EXPECT_EQ(infos[i], set.tensors[i]) << "HDF5 keeps the order written";
      }
    }
  }
  if (world().is_root()) {
    EXPECT_TRUE(fs::exists(dir.file("hf/model.safetensors.index.json")));
    EXPECT_TRUE(fs::exists(dir.file("hf/model-00002-of-00005.safetensors")));  // 64-byte shards
    EXPECT_FALSE(fs::exists(dir.file("hf/model-00001-of-00006.safetensors")));
  }
}

MergeJob llama_job(const std::string& base, const std::vector<std::string>& models, const std::string& output) {
  MergeJob job;
  job.base = base;
  job.models = models;
  job.output = output;
  job.method.method = "ties";
  job.method.set("density", 0.3);
  job.quiet = true;
  return job;
}

TEST(Safetensors, MergeFromHuggingFaceDirectoriesEqualsMergeFromTheirHdf5Conversions) {
  testing::SharedTempDir dir(world());
  const std::string llama = kFixtures + "/llama-tiny-bf16/";
  std::vector<std::string> dirs, h5s;
  for (const char* m : {"ft-math", "ft-code", "ft-chat"}) {
    dirs.push_back(llama + m);
    h5s.push_back(dir.file(std::string(m) + ".h5"));
    convert(dirs.back(), h5s.back());
  }
  convert(llama + "base", dir.file("base.h5"));
  MergeJob from_hf = llama_job(llama + "base", dirs, dir.file("merged/"));
  from_hf.shard_bytes = 10000;
  from_hf.out_dtype = DType::f32;
  run_merge(from_hf, world(), kSilent);
  MergeJob from_h5 = llama_job(dir.file("base.h5"), h5s, dir.file("merged.h5"));
  from_h5.out_dtype = DType::f32;
  run_merge(from_h5, world(), kSilent);
  std::vector<TensorInfo> hf_infos, h5_infos;
  const auto a = by_name(dir.file("merged"), &hf_infos), b = by_name(dir.file("merged.h5"), &h5_infos);
  auto by_names = [](std::vector<TensorInfo> v) {
    std::sort(v.begin(), v.end(), [](const TensorInfo& x, const TensorInfo& y) { return x.name < y.name; });
    return v;
  };
  EXPECT_TRUE(by_names(hf_infos) == by_names(h5_infos));
  EXPECT_TRUE(a == b) << "the merged tensors differ";
  ASSERT_EQ(a.size(), 21u);
  EXPECT_EQ(h5_infos[0].name, "model.embed_tokens.weight");  // the base's order
  EXPECT_EQ(hf_infos[0].dtype, DType::f32);
  if (world().is_root()) {
    for (const char* copied : {"generation_config.json", "tokenizer.json", "tokenizer_config.json"})
      EXPECT_EQ(file_bytes(dir.file("merged/") + copied), file_bytes(llama + "base/" + copied)) << copied;
    const std::string config = file_bytes(dir.file("merged/config.json"));
    EXPECT_NE(config.find("\"dtype\": \"float32\""), std::string::npos) << config;
    // 10 kB shards of float32 in the base's order (worked out by hand with Hugging Face's rule:
    // the two 16 kB embeddings alone, the rest packed in order): 12 shards.
    EXPECT_TRUE(fs::exists(dir.file("merged/model-00012-of-00012.safetensors")));
    EXPECT_FALSE(fs::exists(dir.file("merged.partial")));
  }
}

TEST(Safetensors, TiedLmHeadAbsentFromGpt2StaysAbsent) {
  testing::SharedTempDir dir(world());
  const std::string gpt2 = kFixtures + "/gpt2-tiny-f32/";
  MergeJob job = llama_job(gpt2 + "base", {gpt2 + "ft-a", gpt2 + "ft-b"}, dir.file("merged"));
  job.method.method = "task_arithmetic";
  job.method.params = {};
  run_merge(job, world(), kSilent);
  const auto merged = by_name(dir.file("merged"));
  EXPECT_EQ(merged.size(), 28u);
  EXPECT_EQ(merged.count("lm_head.weight"), 0u);
  EXPECT_EQ(merged.count("transformer.wte.weight"), 1u);
  if (world().is_root()) {
    EXPECT_TRUE(fs::exists(dir.file("merged/model.safetensors")));
    EXPECT_FALSE(fs::exists(dir.file("merged/model.safetensors.index.json")));  // one shard: no index
    EXPECT_EQ(file_bytes(dir.file("merged/config.json")), file_bytes(gpt2 + "base/config.json"));
  }
}

TEST(Safetensors, BrokenInputsFailAlikeOnEveryRank) {
  testing::SharedTempDir dir(world());
  const std::string shards = kFixtures + "/llama-tiny-bf16/base/";
  if (world().is_root()) {
    const std::string good = file_bytes(kFixtures + "/dtypes.safetensors");
    std::ofstream(dir.file("short.safetensors"), std::ios::binary) << good.substr(0, 300);
    std::ofstream(dir.file("trailing.safetensors"), std::ios::binary) << good << "xx";
    fs::create_directories(dir.file("missing"));
    fs::copy_file(shards + "model.safetensors.index.json", dir.file("missing/model.safetensors.index.json"));
    fs::copy_file(shards + "model-00001-of-00002.safetensors", dir.file("missing/model-00001-of-00002.safetensors"));
    fs::create_directories(dir.file("wrong"));
    std::string index = file_bytes(shards + "model.safetensors.index.json");
    const std::string from = "\"lm_head.weight\": \"model-00002-of-00002.safetensors\"";
    index.replace(index.find(from), from.size(), "\"lm_head.weight\": \"model-00001-of-00002.safetensors\"");
    std::ofstream(dir.file("wrong/model.safetensors.index.json"), std::ios::binary) << index;
    for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"})
      fs::copy_file(shards + f, dir.file("wrong/") + f);
    fs::create_directories(dir.file("empty"));
  }
  world().barrier();
  auto open = [&](const std::string& path) { return [&, path] { storage::open_checkpoint(path, world()); }; };
  EXPECT_EQ(agreed_error(open(dir.file("short.safetensors"))),
            dir.file("short.safetensors") + ": header length 496 runs past the end of the file (300 bytes)");
  EXPECT_EQ(agreed_error(open(dir.file("trailing.safetensors"))),
            dir.file("trailing.safetensors") + ": 2 bytes of data follow the last tensor (the tensors end at 80 of 82 bytes)");
  EXPECT_EQ(agreed_error(open(dir.file("missing"))),
            dir.file("missing/model-00002-of-00002.safetensors") + ": named in " +
                dir.file("missing/model.safetensors.index.json") + " but missing");
  EXPECT_EQ(agreed_error(open(dir.file("wrong"))),
            dir.file("wrong/model.safetensors.index.json") + ": weight_map puts tensor 'lm_head.weight' in "
            "model-00001-of-00002.safetensors, which does not hold it (model-00002-of-00002.safetensors does)");
  EXPECT_EQ(agreed_error(open(dir.file("empty"))),
            dir.file("empty") + ": a directory without model.safetensors or model.safetensors.index.json (expected a "
                                "Hugging Face checkpoint directory)");
}

}  // namespace
}  // namespace mpimerge
