#include "storage/safetensors/index.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"

namespace mpimerge::storage::safetensors {
namespace {

// std::map-backed: ordered_json searches linearly on every insert, quadratic in the tensors. The
// weight_map's order is kept apart, as the parser meets its keys.
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

ShardIndex parse_index(std::string_view text, std::string_view path) {
  // Tensor names listed twice in weight_map: a JSON parser would keep one silently.
  std::set<std::string> seen;
  std::vector<std::string> order;  // weight_map's keys in the file's order, each once
  std::string current, duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start)
      return depth < 8;  // an index nests 2 deep; drop anything absurd
    if (event != Json::parse_event_t::key) return true;
    const std::string& key = parsed.get_ref<const std::string&>();
    if (depth == 1) current = key;
    else if (depth == 2 && current == "weight_map") {
      if (seen.insert(key).second) order.push_back(key);
      else if (duplicate.empty()) duplicate = key;
    }
    return true;
  };
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::exception& e) {
    std::string detail = e.what();
    if (const auto bracket = detail.find("] "); bracket != std::string::npos) detail = detail.substr(bracket + 2);
    fail(path, "not valid JSON: " + detail);
  }
  if (!root.is_object()) fail(path, "not a JSON object");
  if (!duplicate.empty()) fail(path, "tensor '" + duplicate + "' appears twice in weight_map");

  ShardIndex index;
  if (root.contains("metadata")) {
    const Json& metadata = root["metadata"];
    if (!metadata.is_object()) fail(path, "metadata is not an object");
    if (metadata.contains("total_size")) {
      if (!metadata["total_size"].is_number_unsigned()) fail(path, "metadata.total_size is not a non-negative integer");
      index.total_size = metadata["total_size"].get<std::uint64_t>();
    }
  }
  if (!root.contains("weight_map") || !root["weight_map"].is_object())
    fail(path, "no weight_map object (expected {\"weight_map\": {\"tensor\": \"file\", ...}})");
  const Json& weight_map = root["weight_map"];
  for (const std::string& tensor : order) {
    const auto at = weight_map.find(tensor);
    if (at == weight_map.end()) continue;  // a key of a nested object named weight_map
    const Json& file = *at;
    if (!file.is_string()) fail(path, "weight_map: tensor '" + tensor + "' maps to something other than a file name");
    const std::string& name = file.get_ref<const std::string&>();
    if (!plain_file_name(name))
      fail(path, "weight_map: tensor '" + tensor + "' maps to '" + name + "', which is not a file name in the directory");
    index.weight_map.emplace_back(tensor, name);
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
