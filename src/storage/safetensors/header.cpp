#include "storage/safetensors/header.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"
#include "storage/message.hpp"
#include "storage/safetensors/json_keys.hpp"

namespace mpimerge::storage::safetensors {
namespace {

// A std::map-backed object: ordered_json's vector-backed map searches linearly on every insert,
// which made a header of 100k tensors quadratic to parse. The header's order of tensors is kept
// apart, as the parser meets the keys (DuplicateKeys::order).
using Json = nlohmann::json;

// safetensors' Dtype enum order (safetensors/src/tensor.rs), restricted to the dtypes we know.
constexpr std::array<DType, 15> kLayoutOrder{
    DType::boolean, DType::u8,  DType::i8,  DType::f8_e5m2, DType::f8_e4m3, DType::i16, DType::u16, DType::f16,
    DType::bf16,    DType::i32, DType::u32, DType::f32,     DType::f64,     DType::i64, DType::u64,
};

[[noreturn]] void fail(std::string_view path, const std::string& what) {
  throw InputError(std::string(path) + ": " + what);
}

[[noreturn]] void fail_tensor(std::string_view path, const std::string& name, const std::string& what) {
  throw InputError(std::string(path) + ": tensor '" + name + "': " + what);
}

std::string known_dtypes() {
  std::string text;
  for (DType t : kLayoutOrder) text += (text.empty() ? "" : ", ") + std::string(dtype_name(t));
  return text;
}

std::string offsets_text(std::uint64_t begin, std::uint64_t end) {
  return "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// The deepest nesting of objects and arrays, outside strings. A valid header nests 3 deep (the
// root, an entry, its shape); checking this before parsing keeps a hostile header of a hundred
// million '[' from costing gigabytes in the parser's stacks.
std::size_t nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Keys seen twice: JSON parsers keep one of them silently, safetensors must not.
struct DuplicateKeys {
  std::set<std::string> names, fields;
  std::vector<std::string> order;           // the root's keys, in the header's order, each once
  std::vector<std::string> metadata_order;  // __metadata__'s keys, likewise
  std::string name, current, field_name, field;  // first duplicate found
};

Json parse_json(std::string_view text, std::string_view path, DuplicateKeys& dup) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    std::string detail = e.what();
    if (const auto bracket = detail.find("] "); detail.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
      detail = detail.substr(bracket + 2);
    fail(path, "the header is not valid JSON: " + detail);
  }
  for_each_key(text, [&](int depth, const std::string& key) {
    if (depth == 1) {
      dup.current = key;
      dup.fields.clear();
      if (dup.names.insert(key).second) dup.order.push_back(key);
      else if (dup.name.empty()) dup.name = key;
    } else if (depth == 2 && !dup.fields.insert(key).second && dup.field.empty()) {
      dup.field_name = dup.current;
      dup.field = key;
    } else if (depth == 2 && dup.current == "__metadata__") {
      dup.metadata_order.push_back(key);
    }
  });
  return root;
}

std::optional<std::uint64_t> checked_product(const std::vector<std::uint64_t>& factors, std::uint64_t start) {
  std::uint64_t product = start;
  for (const std::uint64_t f : factors) {
    if (f != 0 && product > UINT64_MAX / f) return std::nullopt;
    product *= f;
  }
  return product;
}

std::optional<std::vector<std::uint64_t>> unsigned_list(const Json& value) {
  if (!value.is_array()) return std::nullopt;
  std::vector<std::uint64_t> out;
  for (const Json& v : value) {
    if (!v.is_number_unsigned()) return std::nullopt;
    out.push_back(v.get<std::uint64_t>());
  }
  return out;
}

TensorEntry parse_entry(const std::string& name, const Json& value, std::uint64_t data_bytes, std::string_view path) {
  if (name.empty()) fail(path, "a tensor has an empty name");
  if (const auto nul = name.find('\0'); nul != std::string::npos)
    fail_tensor(path, name.substr(0, nul) + "\\u0000" + name.substr(nul + 1), "the name contains a NUL character");
  if (!value.is_object()) fail_tensor(path, name, "expected an object with dtype, shape and data_offsets");
  for (const auto& [field, _] : value.items())
    if (field != "dtype" && field != "shape" && field != "data_offsets")
      fail_tensor(path, name, "unexpected field '" + field + "'");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!value.contains(field)) fail_tensor(path, name, std::string("missing field '") + field + "'");

  TensorEntry entry;
  entry.info.name = name;
  const Json& dtype = value["dtype"];
  if (!dtype.is_string()) fail_tensor(path, name, "dtype is not a string");
  const auto parsed_dtype = dtype_from_name(dtype.get_ref<const std::string&>());
  if (!parsed_dtype)
    fail_tensor(path, name, "unsupported dtype '" + dtype.get<std::string>() + "' (known: " + known_dtypes() + ")");
  entry.info.dtype = *parsed_dtype;

  const auto shape = unsigned_list(value["shape"]);
  if (!shape) fail_tensor(path, name, "shape is not a list of non-negative integers");
  entry.info.shape = *shape;
  const auto offsets = unsigned_list(value["data_offsets"]);
  if (!offsets || offsets->size() != 2) fail_tensor(path, name, "data_offsets is not a pair of non-negative integers");
  entry.begin = (*offsets)[0];
  entry.end = (*offsets)[1];

  const auto bytes = checked_product(entry.info.shape, dtype_size(entry.info.dtype));
  if (!bytes) fail_tensor(path, name, "shape " + shape_string(entry.info.shape) + " is too large");
  if (entry.end < entry.begin) fail_tensor(path, name, offsets_text(entry.begin, entry.end) + " end before they begin");
  if (entry.end - entry.begin != *bytes)
    fail_tensor(path, name, offsets_text(entry.begin, entry.end) + " hold " + std::to_string(entry.end - entry.begin) +
                                " bytes, but " + std::string(dtype_name(entry.info.dtype)) + " " +
                                shape_string(entry.info.shape) + " needs " + std::to_string(*bytes));
  if (entry.end > data_bytes)
    fail_tensor(path, name, offsets_text(entry.begin, entry.end) + " run past the end of the data (" +
                                std::to_string(data_bytes) + " bytes)");
  return entry;
}

Metadata parse_metadata(const Json& value, const std::vector<std::string>& order, std::string_view path) {
  if (!value.is_object()) fail(path, "__metadata__ is not an object of strings");
  Metadata metadata;
  for (const std::string& key : order) {
    const Json& v = value.find(key).value();
    if (!v.is_string()) fail(path, "__metadata__ entry '" + key + "' is not a string");
    metadata.emplace_back(key, v.get<std::string>());
  }
  return metadata;
}

// Sorted by offset, the tensors must tile the data buffer: no overlap, no gap, nothing after the
// last one (as the reference reader demands).
void check_tiling(const std::vector<TensorEntry>& tensors, std::uint64_t data_bytes, std::string_view path) {
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::pair(tensors[a].begin, tensors[a].end) < std::pair(tensors[b].begin, tensors[b].end);
  });
  std::uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const std::size_t i : order) {
    const TensorEntry& t = tensors[i];
    if (t.begin < covered)
      fail_tensor(path, t.info.name, offsets_text(t.begin, t.end) + " overlap tensor '" + previous->info.name + "' " +
                                         offsets_text(previous->begin, previous->end));
    if (t.begin > covered)
      fail_tensor(path, t.info.name, offsets_text(t.begin, t.end) + " leave bytes " + std::to_string(covered) + ".." +
                                         std::to_string(t.begin) + " of the data unused");
    covered = t.end;
    previous = &t;
  }
  if (covered != data_bytes)
    fail(path, std::to_string(data_bytes - covered) + " bytes of data follow the last tensor (the tensors end at " +
                   std::to_string(covered) + " of " + std::to_string(data_bytes) + " bytes)");
}

void append_le64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::string quoted(const std::string& text) {
  try {
    return Json(text).dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::exception&) {
    throw InputError("tensor name '" + text + "' is not valid UTF-8, which safetensors headers require");
  }
}

}  // namespace

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DType t : kLayoutOrder)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

int layout_rank(DType dtype) {
  return static_cast<int>(std::find(kLayoutOrder.begin(), kLayoutOrder.end(), dtype) - kLayoutOrder.begin());
}

std::uint64_t header_length(std::span<const std::uint8_t> prefix, std::uint64_t file_size, std::string_view path) {
  if (file_size < 8)
    fail(path, "not a safetensors file: " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  if (prefix.size() < 8) fail(path, "the header length was not read (" + std::to_string(prefix.size()) + " of 8 bytes)");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[static_cast<std::size_t>(i)];
  if (n > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                   " bytes (not a safetensors file?)");
  if (n > file_size - 8)
    fail(path, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(file_size) +
                   " bytes)");
  return n;
}

Header parse_header(std::span<const std::uint8_t> file_start, std::uint64_t file_size, std::string_view path) {
  Header header;
  header.json_bytes = header_length(file_start, file_size, path);
  if (file_start.size() - 8 < header.json_bytes)
    fail(path, "the header was not read whole (" + std::to_string(file_start.size()) + " of " +
                   std::to_string(header.data_start()) + " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(file_start.data()) + 8, header.json_bytes);
  if (text.empty() || text.front() != '{') fail(path, "the header does not start with '{'");
  if (nesting_depth(text) > 3) fail(path, "the header nests deeper than a safetensors header can");

  DuplicateKeys dup;
  const Json root = parse_json(text, path, dup);
  if (!root.is_object()) fail(path, "the header is not a JSON object");
  if (!dup.name.empty())
    fail(path, dup.name == "__metadata__" ? "__metadata__ appears twice in the header"
                                           : "tensor '" + dup.name + "' appears twice in the header");
  if (!dup.field.empty()) fail(path, "'" + dup.field_name + "': field '" + dup.field + "' appears twice");

  const std::uint64_t data_bytes = file_size - header.data_start();
  header.tensors.reserve(dup.order.size());
  for (const std::string& key : dup.order) {
    const Json& value = root.find(key).value();
    if (key == "__metadata__") header.metadata = parse_metadata(value, dup.metadata_order, path);
    else header.tensors.push_back(parse_entry(key, value, data_bytes, path));
  }
  check_tiling(header.tensors, data_bytes, path);
  return header;
}

std::vector<std::uint8_t> build_header(const std::vector<TensorInfo>& tensors, const Metadata& metadata) {
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    for (std::size_t i = 0; i < metadata.size(); ++i) {
      if (i) json += ',';
      json += quoted(metadata[i].first);
      json += ':';
      json += quoted(metadata[i].second);
    }
    json += "}";
  }
  std::uint64_t offset = 0;
  for (const TensorInfo& t : tensors) {
    if (json.size() > 1) json += ",";
    json += quoted(t.name) + ":{\"dtype\":\"" + std::string(dtype_name(t.dtype)) + "\",\"shape\":[";
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
      if (d) json += ',';
      json += std::to_string(t.shape[d]);
    }
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes()) + "]}";
    offset += t.bytes();
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');  // data starts 8-aligned
  std::vector<std::uint8_t> out;
  out.reserve(8 + json.size());
  append_le64(out, json.size());
  out.insert(out.end(), json.begin(), json.end());
  return out;
}

std::vector<std::uint8_t> encode_header(const Header& header) {
  std::vector<std::uint8_t> out;
  put_number(out, header.json_bytes);
  put_number(out, header.tensors.size());
  for (const TensorEntry& t : header.tensors) {
    put_text(out, t.info.name);
    put_number(out, static_cast<std::uint64_t>(t.info.dtype));
    put_number(out, t.info.shape.size());
    for (const std::uint64_t n : t.info.shape) put_number(out, n);
    put_number(out, t.begin);
    put_number(out, t.end);
  }
  put_number(out, header.metadata.size());
  for (const auto& [key, value] : header.metadata) {
    put_text(out, key);
    put_text(out, value);
  }
  return out;
}

Header decode_header(std::span<const std::uint8_t> bytes) {
  MessageFields in(bytes, "safetensors header message");
  Header header;
  header.json_bytes = in.number();
  const std::uint64_t tensors = in.number();
  for (std::uint64_t i = 0; i < tensors && !in.done(); ++i) {
    TensorEntry t;
    t.info.name = in.text();
    t.info.dtype = static_cast<DType>(in.number());
    const std::uint64_t rank = in.number();
    for (std::uint64_t d = 0; d < rank && !in.done(); ++d) t.info.shape.push_back(in.number());
    t.begin = in.number();
    t.end = in.number();
    header.tensors.push_back(std::move(t));
  }
  const std::uint64_t entries = in.number();
  for (std::uint64_t i = 0; i < entries && !in.done(); ++i) {
    std::string key = in.text();
    header.metadata.emplace_back(std::move(key), in.text());
  }
  if (!in.done() || header.tensors.size() != tensors || header.metadata.size() != entries)
    throw Error("safetensors header message: malformed");
  return header;
}

}  // namespace mpimerge::storage::safetensors
