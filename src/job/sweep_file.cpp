// Reading a sweep's grid file (see include/mpimerge/job/sweep_file.hpp).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mpimerge/job/job_file.hpp"
#include "mpimerge/job/sweep_file.hpp"
#include "mpimerge/methods/registry.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/format.hpp"
#include "mpimerge/util/memory.hpp"
#include "mpimerge/util/text_file.hpp"
#include "mpimerge/util/size.hpp"

namespace mpimerge {
namespace {

// A grid axis: one value or a non-empty list of plain values, as a job file writes them.
std::vector<ParameterScalar> values_of(const YAML::Node& node, const std::string& key, const std::string& source) {
  std::vector<ParameterScalar> out;
  auto scalar = [](const YAML::Node& v) { return job::parse_scalar(v.Scalar(), v.Tag() == "!"); };
  if (node.IsScalar()) {
    out.push_back(scalar(node));
  } else if (node.IsSequence() && node.size() > 0) {
    for (const auto& v : node) {
      if (!v.IsScalar()) throw UsageError(source + ": grid." + key + " must list plain values");
      out.push_back(scalar(v));
    }
  } else {
    throw UsageError(source + ": grid." + key + " must be a value or a non-empty list");
  }
  return out;
}

// The names a side input may go by in a sweep file: those any registered method declares.
bool is_side_input(const std::string& key) {
  for (const MethodSpec* s : method_registry())
    if (s->find_side_input(key)) return true;
  return false;
}

// "-d0.2", "-model", "-gamma0.02": a swept parameter's part of a point's name.
std::string name_part(const ParameterDef& def, const ParameterScalar& value) {
  std::string part(1, '-');
  part.append(def.tag.value_or(def.name)).append(value.to_string());
  return part;
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
                                              "memory_budget", "shard_size", "grid", "parameters"};
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!kKeys.count(key) && !is_side_input(key)) throw UsageError(source + ": unknown key '" + key + "'");
  }

  MergeJob common;
  if (root["base"]) common.base = required_string(root, "base", source);  // optional: methods that need none
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
  if (root["memory_budget"]) common.memory_budget = parse_size(root["memory_budget"].as<std::string>());
  if (root["shard_size"]) common.shard_bytes = parse_size(root["shard_size"].as<std::string>());
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!is_side_input(key)) continue;
    if (!kv.second.IsSequence()) throw UsageError(source + ": '" + key + "' must list one file per model");
    for (const auto& path : kv.second) common.side_inputs[key].push_back(path.as<std::string>());
  }
  // Parameters every point gets (where its method takes them), as a job file's top-level ones.
  std::map<std::string, ParameterScalar> fixed;
  if (root["parameters"]) {
    if (!root["parameters"].IsMap()) throw UsageError(source + ": 'parameters' must map names to values");
    for (const auto& kv : root["parameters"]) {
      const std::string key = kv.first.as<std::string>();
      const auto values = values_of(kv.second, "parameters." + key, source);
      if (values.size() != 1) throw UsageError(source + ": parameters." + key + " is one value (sweep it under grid)");
      fixed[key] = values.front();
    }
  }

  const YAML::Node grid = root["grid"];
  if (!grid || !grid.IsMap()) throw UsageError(source + ": 'grid' must map parameters to values");
  std::vector<std::string> methods{"ties"};
  std::map<std::string, std::vector<ParameterScalar>> axes;
  for (const auto& kv : grid) {
    const std::string key = kv.first.as<std::string>();
    if (key == "method") {
      methods.clear();
      for (const auto& m : values_of(kv.second, key, source)) methods.push_back(m.to_string());
    } else {
      axes[key] = values_of(kv.second, key, source);
    }
  }
  // Every axis and fixed parameter must mean something to some method of the grid: a typo or a
  // parameter of another method is an error, not a silently ignored axis.
  std::vector<const MethodSpec*> specs;
  for (const std::string& m : methods) specs.push_back(&find_method(m));
  auto sweepable_names = [&] {
    std::string names;
    for (const MethodSpec* s : specs)
      for (const auto& d : s->parameters)
        if (d.sweepable && names.find(std::string(d.name)) == std::string::npos)
          names += (names.empty() ? "" : ", ") + std::string(d.name);
    return names;
  };
  for (const auto& axis : axes) {
    const std::string& key = axis.first;  // a named variable: clang 14 cannot capture structured bindings
    const bool used = std::any_of(specs.begin(), specs.end(), [&](const MethodSpec* s) {
      const ParameterDef* d = s->find(key);
      return d && d->sweepable;
    });
    if (!used)
      throw UsageError(source + ": grid parameter '" + key + "' is swept by none of the grid's methods (they sweep: " +
                       sweepable_names() + ")");
  }
  for (const auto& parameter : fixed) {
    const std::string& key = parameter.first;
    if (std::none_of(specs.begin(), specs.end(), [&](const MethodSpec* s) { return s->find(key) != nullptr; }))
      throw UsageError(source + ": parameter '" + key + "' is taken by none of the grid's methods");
  }

  // The product of the axes, one method at a time, over the axes it sweeps, in the order of its
  // declaration (which the point names follow).
  std::set<std::string> names;
  const bool safetensors = common.output_format == "safetensors";
  for (const MethodSpec* spec : specs) {
    std::vector<std::pair<const ParameterDef*, const std::vector<ParameterScalar>*>> used;
    for (const ParameterDef& def : spec->parameters)
      if (def.sweepable && axes.count(std::string(def.name))) used.emplace_back(&def, &axes[std::string(def.name)]);
    std::vector<std::size_t> at(used.size(), 0);
    while (true) {
      SweepPoint point{std::string(spec->name), common};
      std::erase_if(point.job.side_inputs, [&](const auto& input) { return !spec->find_side_input(input.first); });
      MethodOptions& method = point.job.method;
      method.method = spec->name;
      for (const auto& [key, value] : fixed)
        if (spec->find(key)) method.params.set_global(key, ParameterSetting::scalar(value));
      for (std::size_t a = 0; a < used.size(); ++a)
        method.params.set_global(std::string(used[a].first->name), ParameterSetting::scalar((*used[a].second)[at[a]]));
      // Checked here, so a bad value is refused before anything runs, and named as every way in
      // names it: the point takes the checked values (percentages as fractions).
      method.params = validate_parameters(method.params, spec->parameters, spec->name, common.models.size(), false);
      for (const auto& axis : used)
        point.name += name_part(*axis.first, method.params.global().at(std::string(axis.first->name)).conditions[0].value[0]);
      if (names.insert(point.name).second) {
        if (sweep.points.size() == kMaxPoints)
          throw UsageError(source + ": the grid has more than " + std::to_string(kMaxPoints) + " points");
        point.job.output = (std::filesystem::path(sweep.output_dir) / (point.name + (safetensors ? "/" : ".h5"))).string();
        sweep.points.push_back(std::move(point));
      }
      std::size_t a = 0;
      for (; a < used.size(); ++a) {
        if (++at[a] < used[a].second->size()) break;
        at[a] = 0;
      }
      if (a == used.size()) break;
    }
  }
  return sweep;
}

}  // namespace

Sweep load_sweep(const std::string& path) { return parse_sweep_file(read_text_file(path, "sweep file"), path); }

Sweep parse_sweep_file(const std::string& text, const std::string& path) {
  Sweep sweep = parse_sweep(text, path);
  for (auto& point : sweep.points) point.job.job_file = path;
  return sweep;
}

}  // namespace mpimerge
