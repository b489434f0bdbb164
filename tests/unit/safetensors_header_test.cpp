// The safetensors header parser: what it accepts, and each rejection with its exact message. These
// bytes never touch a file: the parser is pure, as a fuzzer will drive it.
#include "storage/safetensors/header.hpp"

#include <gtest/gtest.h>

#include "mpimerge/error.hpp"

namespace mpimerge::storage::safetensors {
namespace {

// A file: 8-byte length, the JSON, then data_bytes bytes of data.
std::vector<std::uint8_t> file_with(const std::string& json, std::uint64_t data_bytes) {
  std::vector<std::uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(json.size() >> (8 * i)));
  out.insert(out.end(), json.begin(), json.end());
  out.resize(out.size() + data_bytes, 0xAB);
  return out;
}

std::string error_of(const std::vector<std::uint8_t>& file) {
  try {
    parse_header(file, file.size(), "f.safetensors");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string error_of(const std::string& json, std::uint64_t data_bytes) { return error_of(file_with(json, data_bytes)); }

constexpr const char* kTwo =
    R"({"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
    R"("b":{"dtype":"F32","shape":[],"data_offsets":[12,16]}})";

TEST(SafetensorsHeader, ParsesEntriesInHeaderOrderWithMetadata) {
  const auto file = file_with(kTwo, 16);
  const Header h = parse_header(file, file.size(), "f.safetensors");
  EXPECT_EQ(h.json_bytes, std::string(kTwo).size());
  EXPECT_EQ(h.data_start(), 8 + std::string(kTwo).size());
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0], (TensorEntry{{"w", DType::bf16, {2, 3}}, 0, 12}));
  EXPECT_EQ(h.tensors[1], (TensorEntry{{"b", DType::f32, {}}, 12, 16}));
  EXPECT_EQ(h.metadata, (Metadata{{"format", "pt"}}));
}

// The parsed header one rank sends the others (the reader spreads shards over the ranks).
TEST(SafetensorsHeader, TravelsAsBytesUnchangedAndRefusesBytesItDidNotMake) {
  const auto file = file_with(kTwo, 16);
  const Header h = parse_header(file, file.size(), "f.safetensors");
  const std::vector<std::uint8_t> bytes = encode_header(h);
  EXPECT_EQ(decode_header(bytes), h);
  EXPECT_EQ(decode_header(encode_header(Header{})), Header{});
  for (const std::size_t cut : {std::size_t{0}, std::size_t{7}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_THROW(decode_header(std::span(bytes).first(cut)), Error) << cut;
  std::vector<std::uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(decode_header(longer), Error);
}

TEST(SafetensorsHeader, AcceptsEmptyTensorsPaddingAndNoMetadata) {
  const std::string json = R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}   )";
  const auto file = file_with(json, 1);
  const Header h = parse_header(file, file.size(), "f.safetensors");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].info.shape, (std::vector<std::uint64_t>{0, 4}));
  EXPECT_TRUE(h.metadata.empty());
  EXPECT_EQ(error_of("{}", 0), "(accepted)");
}

TEST(SafetensorsHeader, KnowsEveryDtypeNameExactly) {
  for (const char* name : {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
                           "F64", "I64", "U64"}) {
    const auto dtype = dtype_from_name(name);
    ASSERT_TRUE(dtype) << name;
    EXPECT_EQ(dtype_name(*dtype), name);
  }
  EXPECT_FALSE(dtype_from_name("bf16"));
  EXPECT_FALSE(dtype_from_name("F4"));
}

TEST(SafetensorsHeader, RejectsBadLengths) {
  EXPECT_EQ(error_of(std::vector<std::uint8_t>{1, 2, 3}),
            "f.safetensors: not a safetensors file: 3 bytes, shorter than the 8-byte header length");
  auto huge = file_with("{}", 0);
  huge[3] = 0x10;  // N = 0x10000002
  EXPECT_EQ(error_of(huge), "f.safetensors: header length 268435458 exceeds the limit of 100000000 bytes (not a safetensors file?)");
  auto past = file_with("{}", 0);
  past[0] = 3;
  EXPECT_EQ(error_of(past), "f.safetensors: header length 3 runs past the end of the file (10 bytes)");
  const auto file = file_with("{}", 0);
  EXPECT_THROW(parse_header(std::span(file).first(5), file.size(), "f"), InputError);
  try {
    parse_header(std::span(file).first(9), file.size(), "f.safetensors");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "f.safetensors: the header was not read whole (9 of 10 bytes)");
  }
}

TEST(SafetensorsHeader, RejectsWhatIsNotAJsonObject) {
  EXPECT_EQ(error_of("", 0), "f.safetensors: the header does not start with '{'");
  EXPECT_EQ(error_of(" {}", 0), "f.safetensors: the header does not start with '{'");
  EXPECT_EQ(error_of("{\"a\":", 0).rfind("f.safetensors: the header is not valid JSON: parse error at line 1, column 6", 0), 0u);
  EXPECT_EQ(error_of("{} x", 0).rfind("f.safetensors: the header is not valid JSON: ", 0), 0u);
  EXPECT_EQ(error_of("{\"\xff\":1}", 0).rfind("f.safetensors: the header is not valid JSON: ", 0), 0u);
  EXPECT_EQ(error_of(R"({"a":{"shape":[[[1]]]}})", 0), "f.safetensors: the header nests deeper than a safetensors header can");
  EXPECT_EQ(error_of(std::string(1000, '{'), 0), "f.safetensors: the header nests deeper than a safetensors header can");
}

TEST(SafetensorsHeader, RejectsDuplicateNamesAndFields) {
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2),
            "f.safetensors: tensor 'x' appears twice in the header");
  EXPECT_EQ(error_of(R"({"__metadata__":{},"__metadata__":{}})", 0), "f.safetensors: __metadata__ appears twice in the header");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1),
            "f.safetensors: 'x': field 'dtype' appears twice");
}

TEST(SafetensorsHeader, RejectsBadMetadata) {
  EXPECT_EQ(error_of(R"({"__metadata__":[]})", 0), "f.safetensors: __metadata__ is not an object of strings");
  EXPECT_EQ(error_of(R"({"__metadata__":{"format":1}})", 0), "f.safetensors: __metadata__ entry 'format' is not a string");
}

TEST(SafetensorsHeader, RejectsBadEntries) {
  EXPECT_EQ(error_of(R"({"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})", 0), "f.safetensors: a tensor has an empty name");
  EXPECT_EQ(error_of(R"({"a\u0000b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})", 0),
            "f.safetensors: tensor 'a\\u0000b': the name contains a NUL character");
  EXPECT_EQ(error_of(R"({"x":3})", 0), "f.safetensors: tensor 'x': expected an object with dtype, shape and data_offsets");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"y":1}})", 1),
            "f.safetensors: tensor 'x': unexpected field 'y'");
  EXPECT_EQ(error_of(R"({"x":{"shape":[1],"data_offsets":[0,1]}})", 1), "f.safetensors: tensor 'x': missing field 'dtype'");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","data_offsets":[0,1]}})", 1), "f.safetensors: tensor 'x': missing field 'shape'");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","shape":[1]}})", 1), "f.safetensors: tensor 'x': missing field 'data_offsets'");
  EXPECT_EQ(error_of(R"({"x":{"dtype":8,"shape":[1],"data_offsets":[0,1]}})", 1), "f.safetensors: tensor 'x': dtype is not a string");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"F4","shape":[1],"data_offsets":[0,1]}})", 1),
            "f.safetensors: tensor 'x': unsupported dtype 'F4' (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, "
            "BF16, I32, U32, F32, F64, I64, U64)");
  for (const char* shape : {"[-1]", "[1.0]", "3", "[\"1\"]", "[18446744073709551616]"})
    EXPECT_EQ(error_of(std::string(R"({"x":{"dtype":"U8","shape":)") + shape + R"(,"data_offsets":[0,1]}})", 1),
              "f.safetensors: tensor 'x': shape is not a list of non-negative integers")
        << shape;
  for (const char* offsets : {"[0]", "[0,1,2]", "[0,-1]", "{}", "[0,1.5]"})
    EXPECT_EQ(error_of(std::string(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":)") + offsets + "}}", 1),
              "f.safetensors: tensor 'x': data_offsets is not a pair of non-negative integers")
        << offsets;
}

TEST(SafetensorsHeader, RejectsOffsetsThatDoNotMatchTheData) {
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}})", 1),
            "f.safetensors: tensor 'x': data_offsets [1, 0] end before they begin");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
            "f.safetensors: tensor 'x': data_offsets [0, 20] hold 20 bytes, but F32 [2, 3] needs 24");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
            "f.safetensors: tensor 'x': shape [4294967296, 4294967296] is too large");
  EXPECT_EQ(error_of(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 3),
            "f.safetensors: tensor 'x': data_offsets [0, 4] run past the end of the data (3 bytes)");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})", 5),
            "f.safetensors: tensor 'b': data_offsets [3, 5] overlap tensor 'a' data_offsets [0, 4]");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}})", 4),
            "f.safetensors: tensor 'e': data_offsets [2, 2] overlap tensor 'a' data_offsets [0, 4]");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", 4),
            "f.safetensors: tensor 'a': data_offsets [2, 4] leave bytes 0..2 of the data unused");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 5),
            "f.safetensors: 3 bytes of data follow the last tensor (the tensors end at 2 of 5 bytes)");
}

TEST(SafetensorsHeader, NeverReadsPastTheBytesItIsGivenWhateverTheirContent) {
  // Every prefix of a valid file, and every single-byte corruption of it, is parsed or refused
  // with an InputError; nothing else escapes.
  const auto file = file_with(kTwo, 16);
  for (std::size_t n = 0; n <= file.size(); ++n) {
    const std::vector<std::uint8_t> prefix(file.begin(), file.begin() + static_cast<long>(n));
    try {
      parse_header(prefix, prefix.size(), "f");
    } catch (const InputError&) {
    }
  }
  for (std::size_t i = 0; i < 8 + std::string(kTwo).size(); ++i)
    for (const std::uint8_t value : {0x00, 0x22, 0x5B, 0x7B, 0x7D, 0xFF}) {
      auto corrupt = file;
      corrupt[i] = value;
      try {
        parse_header(corrupt, corrupt.size(), "f");
      } catch (const InputError&) {
      }
    }
}

TEST(SafetensorsHeader, BuildsWhatTheReferenceWriterWritesAndParsesItBack) {
  const std::vector<TensorInfo> tensors = {{"w", DType::bf16, {2, 3}}, {"s", DType::f32, {}}, {"e", DType::u8, {0}}};
  const auto bytes = build_header(tensors, {{"format", "pt"}});
  const std::string json(bytes.begin() + 8, bytes.end());
  EXPECT_EQ(json, R"({"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
                  R"("s":{"dtype":"F32","shape":[],"data_offsets":[12,16]},"e":{"dtype":"U8","shape":[0],"data_offsets":[16,16]}}   )");
  EXPECT_EQ(bytes.size() % 8, 0u);
  auto file = bytes;
  file.resize(file.size() + 16);
  const Header h = parse_header(file, file.size(), "f");
  ASSERT_EQ(h.tensors.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(h.tensors[i].info, tensors[i]);
  EXPECT_THROW(build_header({{"bad\xff", DType::u8, {1}}}, {}), InputError);
}

TEST(SafetensorsHeader, LayoutRankIsSafetensorsDtypeOrder) {
  EXPECT_LT(layout_rank(DType::boolean), layout_rank(DType::u8));
  EXPECT_LT(layout_rank(DType::f8_e4m3), layout_rank(DType::i16));
  EXPECT_LT(layout_rank(DType::f16), layout_rank(DType::bf16));
  EXPECT_LT(layout_rank(DType::f32), layout_rank(DType::f64));
  EXPECT_LT(layout_rank(DType::f64), layout_rank(DType::i64));
  EXPECT_LT(layout_rank(DType::i64), layout_rank(DType::u64));
}

}  // namespace
}  // namespace mpimerge::storage::safetensors
