#include "mpimerge/pipeline/plan.hpp"

#include <optional>
#include <string_view>
#include <unordered_map>

#include "mpimerge/error.hpp"
#include "mpimerge/util/counter_rng.hpp"

namespace mpimerge {
namespace {

// An architecture mismatch (another layer count, another vocabulary) differs in hundreds of tensors:
// the error line shows the count and the first few, and inspect lists them all.
constexpr std::size_t kMaxListed = 3;

std::string join_problems(const std::vector<std::string>& problems, const InputSet& inputs) {
  std::string text = std::to_string(problems.size()) + (problems.size() == 1 ? " problem: " : " problems: ");
  if (problems.size() > kMaxListed) text = std::to_string(problems.size()) + " problems, the first " + std::to_string(kMaxListed) + ": ";
  for (std::size_t i = 0; i < problems.size() && i < kMaxListed; ++i) text += (i ? "; " : "") + problems[i];
  if (problems.size() > kMaxListed) {
    std::string command = "mpimerge inspect";
    for (const auto* reader : inputs.readers) command += " " + reader->path();
    text += "; `" + command + "` lists all " + std::to_string(problems.size());
  }
  return text;
}

}  // namespace

std::string InputSet::label(std::size_t input) const {
  const std::string& path = readers[input]->path();
  if (has_base && input == 0) return "base (" + path + ")";
  return "model " + std::to_string(input + (has_base ? 0 : 1)) + " (" + path + ")";
}

std::string InputSet::aligned_label(std::size_t input) const {
  return aligned_name + " " + std::to_string(input + 1) + " (" + aligned[input]->path() + ")";
}

std::string InputSet::side_label(std::size_t input) const {
  return side_name + " " + std::to_string(input + 1) + " (" + side[input]->path() + ")";
}

std::vector<TensorInfo> MergePlan::output_tensors() const {
  std::vector<TensorInfo> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) out.push_back(t.output);
  return out;
}

namespace {

// The plan, and every reason the inputs cannot be merged (empty when they can).
std::unordered_map<std::string, std::size_t> index_by_name(const storage::CheckpointReader& reader) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t j = 0; j < reader.tensors().size(); ++j) index.emplace(reader.tensors()[j].name, j);
  return index;
}

// Finds every merged tensor in the aligned and side inputs, checking what the engine relies on:
// float data, and for aligned inputs the models' shape. What the data mean is the method's business.
void plan_side_inputs(const InputSet& inputs, MergePlan& plan, std::vector<std::string>& problems) {
  plan.shape.aligned_inputs = inputs.aligned.size();
  plan.shape.side_inputs = inputs.side.size();
  for (std::size_t a = 0; a < inputs.aligned.size(); ++a) {
    const auto index = index_by_name(*inputs.aligned[a]);
    bool any = false;
    for (PlannedTensor& p : plan.tensors) {
      if (p.action != TensorAction::merge) continue;
      MergedTensor& merged = plan.shape.tensors[p.merged_index];
      const auto found = index.find(p.output.name);
      const TensorInfo* t = found == index.end() ? nullptr : &inputs.aligned[a]->tensors()[found->second];
      if (t && t->shape != p.output.shape)
        problems.push_back(inputs.aligned_label(a) + " has tensor '" + t->name + "' of shape " + shape_string(t->shape) +
                           " but the models' is " + shape_string(p.output.shape));
      if (t && !is_float(t->dtype))
        problems.push_back(inputs.aligned_label(a) + " has tensor '" + t->name + "' of dtype " +
                           std::string(dtype_name(t->dtype)) + ", expected a float type");
      p.aligned_index.push_back(t ? std::optional<std::size_t>(found->second) : std::nullopt);
      p.aligned_dtype.push_back(t ? t->dtype : DType::f32);
      merged.aligned_present.push_back(t != nullptr);
      any = any || t;
    }
    if (!any && !plan.shape.tensors.empty())
      problems.push_back(inputs.aligned_label(a) + " holds none of the merged tensors (its names must be the models')");
  }
  for (std::size_t s = 0; s < inputs.side.size(); ++s) {
    const auto index = index_by_name(*inputs.side[s]);
    bool any = false;
    for (PlannedTensor& p : plan.tensors) {
      if (p.action != TensorAction::merge) continue;
      MergedTensor& merged = plan.shape.tensors[p.merged_index];
      const auto found = index.find(p.output.name);
      const TensorInfo* t = found == index.end() ? nullptr : &inputs.side[s]->tensors()[found->second];
      if (t && !is_float(t->dtype))
        problems.push_back(inputs.side_label(s) + " has tensor '" + t->name + "' of dtype " +
                           std::string(dtype_name(t->dtype)) + ", expected a float type");
      p.side_index.push_back(t ? std::optional<std::size_t>(found->second) : std::nullopt);
      merged.side_shapes.push_back(t ? std::optional(t->shape) : std::nullopt);
      any = any || t;
    }
    if (!any && !plan.shape.tensors.empty())
      problems.push_back(inputs.side_label(s) + " holds none of the merged tensors (name each matrix after its weight)");
  }
}

// An input's tensors by name. Checkpoints of one base list their tensors in the same order (a
// checkpoint of 100k tensors: a hash of every name in every input cost more than the plan), so
// where an input's list is the reference's, position r is the answer; otherwise, a hash.
class NameLookup {
 public:
  // reference null: by name only.
  NameLookup(const std::vector<TensorInfo>& list, const std::vector<TensorInfo>* reference) {
    same_order_ = reference && list.size() == reference->size();
    for (std::size_t j = 0; same_order_ && j < list.size(); ++j) same_order_ = list[j].name == (*reference)[j].name;
    if (same_order_) return;
    by_name_.reserve(list.size());
    for (std::size_t j = 0; j < list.size(); ++j) by_name_.emplace(list[j].name, j);
  }
  bool same_order() const { return same_order_; }
  // The index of `name`, which the reference lists at position r.
  std::optional<std::size_t> find(const std::string& name, std::size_t r) const {
    if (same_order_) return r;
    const auto at = by_name_.find(name);
    return at == by_name_.end() ? std::nullopt : std::optional<std::size_t>(at->second);
  }

 private:
  bool same_order_ = false;
  std::unordered_map<std::string_view, std::size_t> by_name_;
};

MergePlan build_plan(const InputSet& inputs, std::optional<DType> out_dtype, bool compute_in_float64,
                     std::vector<std::string>& problems) {
  const auto& reference = inputs.readers.front()->tensors();
  const std::string reference_label = inputs.label(0);

  std::vector<NameLookup> index;
  for (const auto* reader : inputs.readers) index.emplace_back(reader->tensors(), &reference);
  std::optional<NameLookup> reference_names;  // built only where some input lists other names
  for (std::size_t i = 1; i < inputs.readers.size(); ++i) {
    if (index[i].same_order()) continue;
    if (!reference_names) reference_names.emplace(reference, nullptr);
    for (const auto& t : inputs.readers[i]->tensors())
      if (!reference_names->find(t.name, 0))
        problems.push_back(inputs.label(i) + " has tensor '" + t.name + "' that " + reference_label + " lacks");
  }

  MergePlan plan;
  plan.shape.models = inputs.readers.size() - (inputs.has_base ? 1 : 0);
  plan.shape.has_base = inputs.has_base;
  for (std::size_t r = 0; r < reference.size(); ++r) {
    const TensorInfo& ref = reference[r];
    PlannedTensor p;
    p.output = ref;
    bool complete = true, all_float = true, any_f64 = false;
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
      const std::optional<std::size_t> found = index[i].find(ref.name, r);
      if (!found) {
        problems.push_back(inputs.label(i) + " lacks tensor '" + ref.name + "'");
        complete = false;
        continue;
      }
      const TensorInfo& t = inputs.readers[i]->tensors()[*found];
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
      p.input_index.push_back(*found);
      p.input_dtype.push_back(t.dtype);
    }
    if (!complete) continue;
    if (all_float) {
      p.action = TensorAction::merge;
      p.compute = any_f64 || compute_in_float64 ? ComputeType::f64 : ComputeType::f32;
      if (out_dtype) p.output.dtype = *out_dtype;
      p.merged_index = plan.shape.tensors.size();
      plan.shape.tensors.push_back({ref.name, ref.shape, ref.elements(), p.compute});
    } else {
      p.action = TensorAction::copy_from_base;
    }
    plan.tensors.push_back(std::move(p));
  }
  if (problems.empty()) plan_side_inputs(inputs, plan, problems);
  return plan;
}

}  // namespace

MergePlan plan_merge(const InputSet& inputs, std::optional<DType> out_dtype, bool compute_in_float64) {
  std::vector<std::string> problems;
  MergePlan plan = build_plan(inputs, out_dtype, compute_in_float64, problems);
  if (!problems.empty()) throw InputError("the inputs cannot be merged: " + join_problems(problems, inputs));
  return plan;
}

std::vector<std::string> merge_problems(const InputSet& inputs) {
  std::vector<std::string> problems;
  build_plan(inputs, std::nullopt, false, problems);
  return problems;
}

std::uint64_t plan_fingerprint(const MergePlan& plan) {
  std::uint64_t h = mix64(plan.tensors.size());
  auto add = [&h](std::uint64_t v) { h = mix64(h ^ v); };
  for (const PlannedTensor& t : plan.tensors) {
    add(hash_name(t.output.name));
    add(static_cast<std::uint64_t>(t.output.dtype));
    add(t.output.shape.size());
    for (auto d : t.output.shape) add(d);
    add(static_cast<std::uint64_t>(t.action));
    add(static_cast<std::uint64_t>(t.compute));
    for (std::size_t i = 0; i < t.input_index.size(); ++i) add(t.input_index[i] * 131 + static_cast<std::uint64_t>(t.input_dtype[i]));
    for (const auto& a : t.aligned_index) add(a ? *a + 1 : 0);
    for (const auto& s : t.side_index) add(s ? *s + 1 : 0);
  }
  add(plan.shape.models);
  add(plan.shape.has_base);
  return h;
}

}  // namespace mpimerge
