#include "mpimerge/methods/ties.hpp"

#include <cmath>

#include "mpimerge/methods/ties_kernels.hpp"

namespace mpimerge {

namespace ties {
std::uint64_t kth_smallest_rank(std::uint64_t d, double density) {
  // int(d * K) in Python truncates a double product; so does this.
  const auto kept = static_cast<std::uint64_t>(std::floor(static_cast<double>(d) * density));
  return d - std::min(kept, d);
}
}  // namespace ties

TiesMerge::TiesMerge(const MethodOptions& options) : options_(options) {}

std::size_t TiesMerge::problem(std::size_t task, std::size_t tensor) const {
  return options_.trim_scope == TrimScope::model ? task : tensor * shape_.models + task;
}

void TiesMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  wide_keys_ = shape.any_float64();
  std::vector<std::uint64_t> k;
  if (options_.trim_scope == TrimScope::model) {
    k.assign(shape.models, ties::kth_smallest_rank(shape.total_elements(), options_.density));
  } else {
    for (const auto& t : shape.tensors)
      for (std::size_t m = 0; m < shape.models; ++m)
        k.push_back(ties::kth_smallest_rank(t.elements, options_.density));
  }
  selection_.emplace(std::move(k), wide_keys_ ? 63u : 31u);
  phase_ = selection_->done() ? Phase::count_signs : Phase::select;
  if (phase_ == Phase::count_signs) threshold_keys_.assign(selection_->problems(), 0);
}

template <class T>
std::span<const std::span<T>> TiesMerge::trimmed_task_vectors(const Block<T>& block) {
  auto tau = scratch_.of<T>().arrays(block.models.size(), block.size());
  for (std::size_t t = 0; t < tau.size(); ++t)
    ties::trimmed_task_vector<T>(block.models[t], block.base, threshold_keys_[problem(t, block.tensor)],
                                 wide_keys_, tau[t]);
  return tau;
}

template <class T>
void TiesMerge::analyze_block(const Block<T>& block) {
  if (phase_ == Phase::select) {
    auto keys = scratch_.key_buffer(block.size());
    for (std::size_t t = 0; t < block.models.size(); ++t) {
      const std::size_t p = problem(t, block.tensor);
      if (!selection_->active(p)) continue;
      ties::task_vector_keys<T>(block.models[t], block.base, wide_keys_, keys);
      selection_->count(p, keys);
    }
    return;
  }
  auto trimmed = trimmed_task_vectors(block);
  auto gamma = scratch_.of<T>().extra(block.size());
  ties::elected_sign_before_fallback<T>(trimmed, gamma);
  std::int64_t positive = 0, negative = 0;
  for (T g : gamma) {
    positive += g > T(0);
    negative += g < T(0);
  }
  positive_signs_ += positive;
  negative_signs_ += negative;
}

void TiesMerge::finish_pass(Reductions& reductions) {
  if (phase_ == Phase::select) {
    selection_->finish_pass(reductions);
    if (!selection_->done()) return;
    threshold_keys_.resize(selection_->problems());
    for (std::size_t p = 0; p < threshold_keys_.size(); ++p) threshold_keys_[p] = selection_->kth_key(p);
    phase_ = Phase::count_signs;
    return;
  }
  std::int64_t counts[2] = {positive_signs_, negative_signs_};
  reductions.sum(counts);
  positive_signs_ = counts[0];
  negative_signs_ = counts[1];
  majority_sign_ = counts[0] > counts[1] ? 1 : (counts[0] < counts[1] ? -1 : 0);
  phase_ = Phase::merge;
}

template <class T>
void TiesMerge::merge_block(const Block<T>& block, std::span<T> out) {
  auto trimmed = trimmed_task_vectors(block);
  auto gamma = scratch_.of<T>().extra(3 * block.size());
  ties::elected_sign_before_fallback<T>(trimmed, gamma.first(block.size()));
  ties::apply_zero_sign_fallback<T>(gamma.first(block.size()), majority_sign_);
  ties::disjoint_merge<T>(trimmed, gamma.first(block.size()), options_.disjoint_merge, out,
                          gamma.subspan(block.size()));
  ties::add_scaled_to_base<T>(block.base, static_cast<T>(options_.lambda), out);
}

std::vector<MethodFinding> TiesMerge::findings() const {
  std::vector<MethodFinding> out;
  const std::size_t n = shape_.models;
  std::vector<std::uint64_t> kept(n, 0), total(n, 0);
  for (std::size_t p = 0; p < selection_->problems(); ++p) {
    const std::size_t task = p % n;
    const std::uint64_t elements = options_.trim_scope == TrimScope::model
                                       ? shape_.total_elements()
                                       : shape_.tensors[p / n].elements;
    total[task] += elements;
    kept[task] += elements - selection_->count_below(p);
  }
  for (std::size_t t = 0; t < n; ++t) {
    const std::string task = "task " + std::to_string(t);
    if (options_.trim_scope == TrimScope::model) {
      const std::uint64_t key = threshold_keys_[t];
      out.push_back({task + " threshold", wide_keys_ ? bits::f64_from_magnitude_key(key)
                                                     : bits::f32_from_magnitude_key(key)});
    }
    out.push_back({task + " kept fraction",
                   total[t] ? static_cast<double>(kept[t]) / static_cast<double>(total[t]) : 0.0});
  }
  out.push_back({"positive elected signs", static_cast<double>(positive_signs_)});
  out.push_back({"negative elected signs", static_cast<double>(negative_signs_)});
  out.push_back({"zero-sum sign fallback", static_cast<double>(majority_sign_)});
  return out;
}

template void TiesMerge::analyze_block<float>(const Block<float>&);
template void TiesMerge::analyze_block<double>(const Block<double>&);
template void TiesMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void TiesMerge::merge_block<double>(const Block<double>&, std::span<double>);

}  // namespace mpimerge
