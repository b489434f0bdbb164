#include "storage/safetensors/header.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"
#include "storage/message.hpp"

namespace mpimerge::storage::safetensors {
namespace {

// The SAX interface's types (HeaderListener), and the writer's string quoting.
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

// Keys listed twice in one object: JSON parsers keep one of them silently, safetensors must not.
// A few keys (an entry's fields) are compared in a list; past that, a set (a hostile header may
// give one object many keys).
class KeySet {
 public:
  bool insert(const std::string& key) {
    if (many_.empty()) {
      if (std::find(few_.begin(), few_.end(), key) != few_.end()) return false;
      few_.push_back(key);
      if (few_.size() > 16) many_.insert(few_.begin(), few_.end());
      return true;
    }
    return many_.insert(key).second;
  }

 private:
  std::vector<std::string> few_;
  std::set<std::string> many_;
};

// The header read in one SAX pass that builds no document (a header of 100k tensors as a
// std::map-backed DOM cost seconds per checkpoint in small allocations), keeping, per root key in
// the header's order, what parse_entry and parse_metadata check, and the first key listed twice.
// The text nests at most 3 deep (checked before): the root, an entry or __metadata__, a list.
class HeaderListener final : public nlohmann::json_sax<Json> {
 public:
  struct Entry {
    std::string name;
    bool is_object = false;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    std::optional<std::string> dtype;                 // none: not a string
    std::optional<std::vector<std::uint64_t>> shape;  // none: not a list of non-negative integers
    std::optional<std::vector<std::uint64_t>> offsets;
    std::optional<std::string> unexpected;            // the first other field in name order
    Metadata metadata;                                // __metadata__: its strings, in order
    std::optional<std::string> not_a_string;          // __metadata__: its first key of another value
  };
  std::vector<Entry> entries;  // per root key, in the header's order
  std::string error;           // the parser's, if the text is not JSON
  // The first field listed twice in one object (in the header's order), and whose it is.
  std::optional<std::pair<std::string, std::string>> twice_field;

  bool null() override { return value(Kind::other); }
  bool boolean(bool) override { return value(Kind::other); }
  bool number_integer(Json::number_integer_t) override { return value(Kind::other); }
  bool number_unsigned(Json::number_unsigned_t n) override { return value(Kind::other, nullptr, n); }
  bool number_float(Json::number_float_t, const std::string&) override { return value(Kind::other); }
  bool string(std::string& text) override { return value(Kind::other, &text); }
  bool binary(Json::binary_t&) override { return value(Kind::other); }
  bool start_object(std::size_t) override { return open(Kind::object); }
  bool start_array(std::size_t) override { return open(Kind::array); }
  bool end_object() override { return --depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(std::string& key) override {
    if (depth_ == 1) {
      entries.push_back({});
      entries.back().name = std::move(key);
      fields_ = KeySet();
    } else if (depth_ == 2) {
      if (!fields_.insert(key) && !twice_field) twice_field.emplace(entries.back().name, key);
      field_ = std::move(key);
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  enum class Kind { object, array, other };
  bool open(Kind kind) {
    value(kind);
    if (depth_ < kinds_.size()) kinds_[depth_] = kind;
    ++depth_;
    return true;
  }
  // A value begins inside the container at depth_ (0: it is the root).
  bool value(Kind kind, std::string* text = nullptr, std::optional<Json::number_unsigned_t> n = std::nullopt) {
    if (depth_ == 1) {
      entries.back().is_object = kind == Kind::object;
    } else if (depth_ == 2 && kinds_[1] == Kind::object) {
      Entry& e = entries.back();
      list_ = nullptr;
      if (e.name == "__metadata__") {
        if (text) e.metadata.emplace_back(field_, std::move(*text));
        else if (!e.not_a_string) e.not_a_string = field_;
      } else if (field_ == "dtype") {
        e.has_dtype = true;
        if (text) e.dtype = std::move(*text);
      } else if (field_ == "shape" || field_ == "data_offsets") {
        (field_ == "shape" ? e.has_shape : e.has_offsets) = true;
        list_ = &(field_ == "shape" ? e.shape : e.offsets);
        if (kind == Kind::array) list_->emplace();
      } else if (!e.unexpected || field_ < *e.unexpected) {
        e.unexpected = field_;
      }
    } else if (depth_ == 3 && kinds_[1] == Kind::object && kinds_[2] == Kind::array && list_ && *list_) {
      if (n) (*list_)->push_back(*n);
      else list_->reset();  // not a non-negative integer: not a list of them
    }
    return true;
  }
  std::size_t depth_ = 0;
  std::array<Kind, 3> kinds_{};  // of the containers at depths 0..2 (the root, an entry, a list)
  KeySet fields_;                // of the entry being read
  std::string field_;            // its field being read
  std::optional<std::vector<std::uint64_t>>* list_ = nullptr;  // the list being read, if any
};

std::optional<std::uint64_t> checked_product(const std::vector<std::uint64_t>& factors, std::uint64_t start) {
  std::uint64_t product = start;
  for (const std::uint64_t f : factors) {
    if (f != 0 && product > UINT64_MAX / f) return std::nullopt;
    product *= f;
  }
  return product;
}

TensorEntry parse_entry(HeaderListener::Entry& raw, std::uint64_t data_bytes, std::string_view path) {
  const std::string& name = raw.name;
  if (name.empty()) fail(path, "a tensor has an empty name");
  if (const auto nul = name.find('\0'); nul != std::string::npos)
    fail_tensor(path, name.substr(0, nul) + "\\u0000" + name.substr(nul + 1), "the name contains a NUL character");
  if (!raw.is_object) fail_tensor(path, name, "expected an object with dtype, shape and data_offsets");
  if (raw.unexpected) fail_tensor(path, name, "unexpected field '" + *raw.unexpected + "'");
  if (!raw.has_dtype) fail_tensor(path, name, "missing field 'dtype'");
  if (!raw.has_shape) fail_tensor(path, name, "missing field 'shape'");
  if (!raw.has_offsets) fail_tensor(path, name, "missing field 'data_offsets'");

  TensorEntry entry;
  if (!raw.dtype) fail_tensor(path, name, "dtype is not a string");
  const auto parsed_dtype = dtype_from_name(*raw.dtype);
  if (!parsed_dtype) fail_tensor(path, name, "unsupported dtype '" + *raw.dtype + "' (known: " + known_dtypes() + ")");
  entry.info.dtype = *parsed_dtype;

  if (!raw.shape) fail_tensor(path, name, "shape is not a list of non-negative integers");
  entry.info.shape = std::move(*raw.shape);
  if (!raw.offsets || raw.offsets->size() != 2) fail_tensor(path, name, "data_offsets is not a pair of non-negative integers");
  entry.begin = (*raw.offsets)[0];
  entry.end = (*raw.offsets)[1];

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
  entry.info.name = std::move(raw.name);
  return entry;
}

Metadata parse_metadata(HeaderListener::Entry& raw, std::string_view path) {
  if (!raw.is_object) fail(path, "__metadata__ is not an object of strings");
  if (raw.not_a_string) fail(path, "__metadata__ entry '" + *raw.not_a_string + "' is not a string");
  return std::move(raw.metadata);
}

// The first root key (by its second listing, in the header's order) listed twice, or nullptr.
// Sorted, not hashed: no allocation per name.
const std::string* first_listed_twice(const std::vector<HeaderListener::Entry>& entries) {
  std::vector<std::size_t> order(entries.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return entries[a].name < entries[b].name; });
  std::size_t first = entries.size();
  for (std::size_t i = 1; i < order.size(); ++i)
    if (entries[order[i]].name == entries[order[i - 1]].name) first = std::min(first, order[i]);
  return first < entries.size() ? &entries[first].name : nullptr;
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

  HeaderListener parsed;
  if (!Json::sax_parse(text.begin(), text.end(), &parsed)) {
    std::string detail = parsed.error;
    if (const auto bracket = detail.find("] "); detail.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
      detail = detail.substr(bracket + 2);
    fail(path, "the header is not valid JSON: " + detail);
  }
  if (const std::string* twice = first_listed_twice(parsed.entries))
    fail(path, *twice == "__metadata__" ? "__metadata__ appears twice in the header"
                                        : "tensor '" + *twice + "' appears twice in the header");
  if (parsed.twice_field)
    fail(path, "'" + parsed.twice_field->first + "': field '" + parsed.twice_field->second + "' appears twice");

  const std::uint64_t data_bytes = file_size - header.data_start();
  header.tensors.reserve(parsed.entries.size());
  for (HeaderListener::Entry& entry : parsed.entries) {
    if (entry.name == "__metadata__") header.metadata = parse_metadata(entry, path);
    else header.tensors.push_back(parse_entry(entry, data_bytes, path));
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
