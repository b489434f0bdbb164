// Reading a sweep's grid file (see include/mpimerge/job/sweep_file.hpp).
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mpimerge/commands/sweep.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/format.hpp"
#include "mpimerge/util/memory.hpp"

namespace mpimerge {
namespace {

// The grid parameters each method uses; a method not listed uses all of them.
const std::map<std::string, std::set<std::string>> kUses = {
    {"ties", {"density", "lambda", "trim_scope", "disjoint_merge"}},
    {"task_arithmetic", {"lambda"}},
    {"average", {}},
};
const std::vector<std::string> kGridKeys = {"method", "density", "lambda", "trim_scope", "disjoint_merge"};

}  // namespace

bool sweep_method_uses(const std::string& method, const std::string& parameter) {
  const auto at = kUses.find(method);
  return at == kUses.end() || at->second.count(parameter) > 0;
}

namespace {

std::vector<std::string> values_of(const YAML::Node& node, const std::string& key, const std::string& source) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
  } else if (node.IsSequence() && node.size() > 0) {
    for (const auto& v : node) {
      if (!v.IsScalar()) throw UsageError(source + ": grid." + key + " must list plain values");
      out.push_back(v.as<std::string>());
    }
  } else {
    throw UsageError(source + ": grid." + key + " must be a value or a non-empty list");
  }
  return out;
}

double number(const std::string& text, const std::string& key, const std::string& source) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) throw UsageError(source + ": " + key + " '" + text + "' is not a number");
  return value;
}

std::string required_string(const YAML::Node& root, const std::string& key, const std::string& source) {
  if (!root[key] || !root[key].IsScalar()) throw UsageError(source + ": '" + key + "' is missing");
  return root[key].as<std::string>();
}

// A grid larger than this is a mistake (and would take the memory of its MergeJobs before any check).
constexpr std::size_t kMaxPoints = 10'000;

Sweep parse_sweep_yaml(const YAML::Node& root, const std::string& source);

}  // namespace

Sweep parse_sweep(const std::string& yaml_text, const std::string& source) {
  // yaml-cpp throws from any conversion (a list where a name belongs: "models: [[a]]"); every
  // such exception is the file's fault, reported as one usage error naming it.
  try {
    return parse_sweep_yaml(YAML::Load(yaml_text), source);
  } catch (const YAML::Exception& e) {
    throw UsageError(source + ": not a valid grid file: " + e.what());
  }
}

namespace {

Sweep parse_sweep_yaml(const YAML::Node& root, const std::string& source) {
  if (!root.IsMap()) throw UsageError(source + ": expected a mapping with base, models, output_dir and grid");
  static const std::set<std::string> kKeys = {"base", "models", "output_dir", "output_format", "out_dtype",
                                              "memory_budget", "shard_size", "grid"};
  for (const auto& kv : root)
    if (!kKeys.count(kv.first.as<std::string>()))
      throw UsageError(source + ": unknown key '" + kv.first.as<std::string>() + "'");

  MergeJob common;
  common.base = required_string(root, "base", source);
  if (!root["models"] || !root["models"].IsSequence() || root["models"].size() == 0)
    throw UsageError(source + ": 'models' must list the fine-tuned checkpoints");
  for (const auto& m : root["models"]) common.models.push_back(m.as<std::string>());
  Sweep sweep;
  sweep.output_dir = required_string(root, "output_dir", source);
  if (root["output_format"]) common.output_format = root["output_format"].as<std::string>();
  if (root["out_dtype"]) {
    const auto dtype = parse_dtype(root["out_dtype"].as<std::string>());
    if (!dtype || !is_float(*dtype)) throw UsageError(source + ": out_dtype must be a float type");
    common.out_dtype = dtype;
  }
  if (root["memory_budget"]) common.memory_budget = parse_memory_size(root["memory_budget"].as<std::string>());
  if (root["shard_size"]) common.shard_bytes = storage::parse_byte_size(root["shard_size"].as<std::string>());

  const YAML::Node grid = root["grid"];
  if (!grid || !grid.IsMap()) throw UsageError(source + ": 'grid' must map parameters to values");
  std::map<std::string, std::vector<std::string>> axes;
  for (const auto& kv : grid) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(kGridKeys.begin(), kGridKeys.end(), key) == kGridKeys.end())
      throw UsageError(source + ": grid parameter '" + key + "' is not one of method, density, lambda, trim_scope, disjoint_merge");
    axes[key] = values_of(kv.second, key, source);
  }
  if (!axes.count("method")) axes["method"] = {"ties"};

  // The product of the axes, one method at a time, without the axes that method does not use.
  std::set<std::string> names;
  const bool safetensors = common.output_format == "safetensors";
  for (const std::string& method : axes["method"]) {
    std::vector<std::pair<std::string, std::vector<std::string>>> used;
    for (const std::string& key : kGridKeys)  // a fixed order, which the point names follow
      if (key != "method" && axes.count(key) && sweep_method_uses(method, key)) used.emplace_back(key, axes[key]);
    std::vector<std::size_t> at(used.size(), 0);
    while (true) {
      SweepPoint point{method, common};
      point.job.method.method = method;
      for (std::size_t a = 0; a < used.size(); ++a) {
        const std::string& key = used[a].first;
        const std::string& value = used[a].second[at[a]];
        if (key == "density") {
          point.job.method.density = parse_density(number(value, "density", source));
          point.name += "-d" + format_number(point.job.method.density);
        } else if (key == "lambda") {
          point.job.method.lambda = number(value, "lambda", source);
          point.name += "-l" + format_number(point.job.method.lambda);
        } else if (key == "trim_scope") {
          point.job.method.trim_scope = parse_trim_scope(value);
          point.name += "-" + value;
        } else if (key == "disjoint_merge") {
          point.job.method.disjoint_merge = parse_disjoint_merge(value);
          point.name += "-" + value;
        }
      }
      if (names.insert(point.name).second) {
        if (sweep.points.size() == kMaxPoints)
          throw UsageError(source + ": the grid has more than " + std::to_string(kMaxPoints) + " points");
        point.job.output = (std::filesystem::path(sweep.output_dir) / (point.name + (safetensors ? "/" : ".h5"))).string();
        sweep.points.push_back(std::move(point));
      }
      std::size_t a = 0;
      for (; a < used.size(); ++a) {
        if (++at[a] < used[a].second.size()) break;
        at[a] = 0;
      }
      if (a == used.size()) break;
    }
  }
  return sweep;
}

}  // namespace

Sweep load_sweep(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("sweep file '" + path + "' cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  Sweep sweep = parse_sweep(text.str(), path);
  for (auto& point : sweep.points) point.job.job_file = path;
  return sweep;
}

}  // namespace mpimerge
