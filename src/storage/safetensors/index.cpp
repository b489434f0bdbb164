#include "storage/safetensors/index.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"

namespace mpimerge::storage::safetensors {
namespace {

// std::map-backed (index_json): ordered_json searches linearly on every insert, quadratic in the
// tensors.
using Json = nlohmann::json;

[[noreturn]] void fail(std::string_view path, const std::string& what) {
  throw InputError(std::string(path) + ": " + what);
}

bool plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

std::vector<std::string> ShardIndex::shard_files() const {
  std::set<std::string> files;
  for (const auto& entry : weight_map) files.insert(entry.second);
  return {files.begin(), files.end()};
}

namespace {

// The index in one SAX pass that builds no document (a weight_map of 100k tensors cost more as a
// DOM than the merge's plan): what a DOM parse would keep (the last of keys listed twice at the
// root), plus every weight_map key in the file's order, to catch a tensor listed twice.
class IndexListener final : public nlohmann::json_sax<Json> {
 public:
  struct Entry {
    std::string tensor;
    std::optional<std::string> file;  // none: the value is not a string
  };
  bool root_is_object = false;
  std::optional<bool> metadata_is_object, weight_map_is_object;  // of the last of each key
  std::optional<Json::number_unsigned_t> total_size;
  bool total_size_listed = false;
  std::vector<Entry> listed;     // every weight_map's entries, in the file's order
  std::size_t last_map = 0;      // where the last weight_map's entries begin in `listed`
  std::string error;             // the parser's, if the text is not JSON

  bool null() override { return value(std::nullopt, false); }
  bool boolean(bool) override { return value(std::nullopt, false); }
  bool number_integer(Json::number_integer_t) override { return value(std::nullopt, false); }
  bool number_unsigned(Json::number_unsigned_t n) override { return value(std::nullopt, false, n); }
  bool number_float(Json::number_float_t, const std::string&) override { return value(std::nullopt, false); }
  bool string(std::string& text) override { return value(std::move(text), false); }
  bool binary(Json::binary_t&) override { return value(std::nullopt, false); }
  bool start_object(std::size_t) override { return value(std::nullopt, true), ++depth_, true; }
  bool start_array(std::size_t) override { return value(std::nullopt, false), ++depth_, true; }
  bool end_object() override { return --depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(std::string& key) override {
    if (depth_ == 1) section_ = key == "metadata" ? Section::metadata : key == "weight_map" ? Section::weight_map : Section::other;
    if (depth_ == 2) key_ = std::move(key);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  enum class Section { other, metadata, weight_map };
  // A value begins at depth_ (0: the root): what it is, for the key it belongs to.
  bool value(std::optional<std::string> text, bool object, std::optional<Json::number_unsigned_t> n = std::nullopt) {
    if (depth_ == 0) root_is_object = object;
    if (depth_ == 1 && section_ == Section::metadata) {
      metadata_is_object = object;
      total_size.reset();
      total_size_listed = false;
    }
    if (depth_ == 1 && section_ == Section::weight_map) {
      weight_map_is_object = object;
      last_map = listed.size();
    }
    if (depth_ == 2 && section_ == Section::metadata && *metadata_is_object && key_ == "total_size") {
      total_size_listed = true;
      total_size = n;
    }
    if (depth_ == 2 && section_ == Section::weight_map && *weight_map_is_object) listed.push_back({key_, std::move(text)});
    return true;
  }
  int depth_ = 0;
  Section section_ = Section::other;
  std::string key_;  // the last key of the object at depth 2
};

// The first tensor (by its second listing, in the file's order) that the weight_maps list twice,
// or nullptr. Sorted, not hashed: no allocation per name.
const std::string* first_listed_twice(const std::vector<IndexListener::Entry>& listed) {
  std::vector<std::size_t> order(listed.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return listed[a].tensor < listed[b].tensor; });
  std::size_t first = listed.size();
  for (std::size_t i = 1; i < order.size(); ++i)
    if (listed[order[i]].tensor == listed[order[i - 1]].tensor) first = std::min(first, order[i]);
  return first < listed.size() ? &listed[first].tensor : nullptr;
}

}  // namespace

ShardIndex parse_index(std::string_view text, std::string_view path) {
  IndexListener index_text;
  if (!Json::sax_parse(text.begin(), text.end(), &index_text)) {
    std::string detail = index_text.error;
    if (const auto bracket = detail.find("] "); bracket != std::string::npos) detail = detail.substr(bracket + 2);
    fail(path, "not valid JSON: " + detail);
  }
  if (!index_text.root_is_object) fail(path, "not a JSON object");
  if (const std::string* twice = first_listed_twice(index_text.listed))
    fail(path, "tensor '" + *twice + "' appears twice in weight_map");

  ShardIndex index;
  if (index_text.metadata_is_object) {
    if (!*index_text.metadata_is_object) fail(path, "metadata is not an object");
    if (index_text.total_size_listed) {
      if (!index_text.total_size) fail(path, "metadata.total_size is not a non-negative integer");
      index.total_size = *index_text.total_size;
    }
  }
  if (!index_text.weight_map_is_object.value_or(false))
    fail(path, "no weight_map object (expected {\"weight_map\": {\"tensor\": \"file\", ...}})");
  index.weight_map.reserve(index_text.listed.size() - index_text.last_map);
  for (std::size_t i = index_text.last_map; i < index_text.listed.size(); ++i) {
    auto& [tensor, file] = index_text.listed[i];
    if (!file) fail(path, "weight_map: tensor '" + tensor + "' maps to something other than a file name");
    if (!plain_file_name(*file))
      fail(path, "weight_map: tensor '" + tensor + "' maps to '" + *file + "', which is not a file name in the directory");
    index.weight_map.emplace_back(std::move(tensor), std::move(*file));
  }
  return index;
}

std::string index_json(const std::vector<std::pair<std::string, std::string>>& weight_map, std::uint64_t total_size,
                       std::uint64_t total_parameters) {
  nlohmann::json index;  // std::map: keys sorted, as sort_keys=True
  index["metadata"]["total_parameters"] = total_parameters;
  index["metadata"]["total_size"] = total_size;
  index["weight_map"] = nlohmann::json::object();
  for (const auto& [tensor, file] : weight_map) index["weight_map"][tensor] = file;
  return index.dump(2, ' ', true) + "\n";  // ensure_ascii, as Python's json.dumps
}

}  // namespace mpimerge::storage::safetensors
