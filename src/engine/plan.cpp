#include "mpimerge/engine/plan.hpp"

#include <unordered_map>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

constexpr std::size_t kMaxListed = 40;

std::string join_problems(const std::vector<std::string>& problems) {
  std::string text = std::to_string(problems.size()) + (problems.size() == 1 ? " problem: " : " problems: ");
  for (std::size_t i = 0; i < problems.size() && i < kMaxListed; ++i) text += (i ? "; " : "") + problems[i];
  if (problems.size() > kMaxListed) text += "; and " + std::to_string(problems.size() - kMaxListed) + " more";
  return text;
}

}  // namespace

std::string InputSet::label(std::size_t input) const {
  const std::string& path = readers[input]->path();
  if (has_base && input == 0) return "base (" + path + ")";
  return "model " + std::to_string(input + (has_base ? 0 : 1)) + " (" + path + ")";
}

std::vector<TensorInfo> MergePlan::output_tensors() const {
  std::vector<TensorInfo> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) out.push_back(t.output);
  return out;
}

namespace {

// The plan, and every reason the inputs cannot be merged (empty when they can).
MergePlan build_plan(const InputSet& inputs, std::optional<DType> out_dtype, std::vector<std::string>& problems) {
  const auto& reference = inputs.readers.front()->tensors();
  const std::string reference_label = inputs.label(0);

  // name -> index, per input
  std::vector<std::unordered_map<std::string, std::size_t>> index(inputs.readers.size());
  for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
    const auto& list = inputs.readers[i]->tensors();
    for (std::size_t j = 0; j < list.size(); ++j) index[i].emplace(list[j].name, j);
    if (i == 0) continue;
    for (const auto& t : list)
      if (!index[0].count(t.name))
        problems.push_back(inputs.label(i) + " has tensor '" + t.name + "' that " + reference_label + " lacks");
  }

  MergePlan plan;
  plan.shape.models = inputs.readers.size() - (inputs.has_base ? 1 : 0);
  plan.shape.has_base = inputs.has_base;
  for (const TensorInfo& ref : reference) {
    PlannedTensor p;
    p.output = ref;
    bool complete = true, all_float = true, any_f64 = false;
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
      const auto found = index[i].find(ref.name);
      if (found == index[i].end()) {
        problems.push_back(inputs.label(i) + " lacks tensor '" + ref.name + "'");
        complete = false;
        continue;
      }
      const TensorInfo& t = inputs.readers[i]->tensors()[found->second];
      if (t.shape != ref.shape)
        problems.push_back("tensor '" + ref.name + "' has shape " + shape_string(t.shape) + " in " +
                           inputs.label(i) + " but " + shape_string(ref.shape) + " in " + reference_label);
      const bool floating = is_float(t.dtype);
      if (floating != is_float(ref.dtype) || (!floating && t.dtype != ref.dtype))
        problems.push_back("tensor '" + ref.name + "' is " + std::string(dtype_name(t.dtype)) + " in " +
                           inputs.label(i) + " but " + std::string(dtype_name(ref.dtype)) + " in " +
                           reference_label);
      all_float = all_float && floating;
      any_f64 = any_f64 || t.dtype == DType::f64;
      p.input_index.push_back(found->second);
      p.input_dtype.push_back(t.dtype);
    }
    if (!complete) continue;
    if (all_float) {
      p.action = TensorAction::merge;
      p.compute = any_f64 ? ComputeType::f64 : ComputeType::f32;
      if (out_dtype) p.output.dtype = *out_dtype;
      p.merged_index = plan.shape.tensors.size();
      plan.shape.tensors.push_back({ref.name, ref.shape, ref.elements(), p.compute});
    } else {
      p.action = TensorAction::copy_from_base;
    }
    plan.tensors.push_back(std::move(p));
  }
  return plan;
}

}  // namespace

MergePlan plan_merge(const InputSet& inputs, std::optional<DType> out_dtype) {
  std::vector<std::string> problems;
  MergePlan plan = build_plan(inputs, out_dtype, problems);
  if (!problems.empty()) throw InputError("the inputs cannot be merged: " + join_problems(problems));
  return plan;
}

std::vector<std::string> merge_problems(const InputSet& inputs) {
  std::vector<std::string> problems;
  build_plan(inputs, std::nullopt, problems);
  return problems;
}

}  // namespace mpimerge
