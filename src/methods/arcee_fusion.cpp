// Arcee Fusion (mergekit merge_methods/arcee_fusion.py: ArceeFusionMergeTask.execute and
// _compute_importance, DynamicThresholdFusion): between the base a and one model b, per tensor,
//   importance = |b - a| * KL(p || q),  p = softmax(b) + 1e-8, q = softmax(a) + 1e-8,
//     softmax and divergence along the last dimension (one divergence per row of a matrix, one
//     for a whole 1-D tensor), KL(p || q) = sum p log(p / q);
//   threshold = median + 1.5 (q3 - q1) of the tensor's importances, the quantile q being the
//     sorted importances' entry at index floor(q (n - 1));
//   theta = a + (b - a) * [importance >= threshold]   (a + (b - a) * 0 elsewhere, as mergekit).
// Differences, on purpose (docs/methods.md): mergekit estimates the quantiles of a tensor of
// more than 10^6 entries from a random sample of 10^6 (torch.randperm, not reproducible); we take
// them over every entry, exactly, with the same index rule. The softmax and the divergence are
// computed in double from the compute type's values (exact sums, libm's exp and log) and the
// divergence rounded to the compute type; mergekit computes them in float32 with torch's kernels,
// so an entry whose importance lies within rounding of the threshold may be fused in one and not
// in the other.
//
// Distributed, exactly: a row's divergence is computed where the row lies (blocks of whole rows)
// and kept for the later passes; tensors of at most one dimension are gathered whole on every rank
// in one analysis pass (an integer sum of their bit patterns, each element given by the one rank
// that owns it), so every rank computes the same divergence. The three quantiles are exact order
// statistics over all ranks: radix selection over integer keys that order signed values.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/exact_sum.hpp"
#include "mpimerge/float_bits.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"
#include "mpimerge/methods/scratch.hpp"
#include "mpimerge/selection/radix.hpp"

namespace mpimerge {
namespace {

constexpr double kProbabilityEpsilon = 1e-8;  // _compute_importance: softmax(...) + eps
constexpr std::uint64_t kNone = UINT64_MAX;

enum class Phase { gather, select, merge };

// KL(softmax(b) + eps || softmax(a) + eps) over one vector, in double with exact sums.
template <class T>
double divergence(std::span<const T> a, std::span<const T> b) {
  double max_a = -HUGE_VAL, max_b = -HUGE_VAL;
  for (std::size_t j = 0; j < a.size(); ++j) {
    max_a = std::max(max_a, static_cast<double>(a[j]));
    max_b = std::max(max_b, static_cast<double>(b[j]));
  }
  ExactSum sum_a, sum_b, kl;
  for (std::size_t j = 0; j < a.size(); ++j) {
    sum_a.add(std::exp(static_cast<double>(a[j]) - max_a));
    sum_b.add(std::exp(static_cast<double>(b[j]) - max_b));
  }
  const double z_a = sum_a.value(), z_b = sum_b.value();
  for (std::size_t j = 0; j < a.size(); ++j) {
    const double p = std::exp(static_cast<double>(b[j]) - max_b) / z_b + kProbabilityEpsilon;
    const double q = std::exp(static_cast<double>(a[j]) - max_a) / z_a + kProbabilityEpsilon;
    kl.add(p * std::log(p / q));
  }
  return kl.value();
}

class ArceeFusionMerge final : public MethodTemplate<ArceeFusionMerge> {
 public:
  explicit ArceeFusionMerge(const MethodArgs&) {}
  std::string_view name() const override { return "arcee_fusion"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const std::size_t n = shape.tensors.size();
    gather_at_.assign(n, kNone);
    whole_kl_.assign(n, 0.0);
    row_kl_.assign(n, {});
    first_vector_.assign(n, kNone);
    problem_at_.assign(n, kNone);
    threshold_.assign(n, 0.0);
    std::size_t gather_size = 0;
    std::vector<std::uint64_t> ranks;
    for (std::size_t t = 0; t < n; ++t) {
      const std::uint64_t elements = shape.tensors[t].elements;
      if (elements == 0) continue;
      if (shape.tensors[t].shape.size() <= 1) {
        gather_at_[t] = gather_size;  // the base's elements, then the model's
        gather_size += 2 * elements;
      }
      // DynamicThresholdFusion.approximate_quantiles: index (q * (n - 1)).long(), 1-based ranks.
      problem_at_[t] = ranks.size();
      for (const std::uint64_t index : {(elements - 1) / 4, (elements - 1) / 2, 3 * (elements - 1) / 4})
        ranks.push_back(index + 1);
    }
    gathered_.assign(gather_size, 0);
    wide_keys_ = shape.any_float64();
    selection_.reset();
    if (!ranks.empty()) selection_.emplace(std::move(ranks), wide_keys_ ? 64u : 32u);
    phase_ = gather_size > 0 ? Phase::gather : selection_ ? Phase::select : Phase::merge;
    fused_ = 0;
  }

  bool needs_pass() const override { return phase_ != Phase::merge; }
  bool whole_rows(std::size_t tensor) const override { return shape_.tensors[tensor].shape.size() >= 2; }

  template <class T>
  void analyze_block(const Block<T>& block) {
    const std::size_t t = block.tensor, n = block.size();
    if (phase_ == Phase::gather) {
      if (gather_at_[t] == kNone) return;
      std::int64_t* base = gathered_.data() + gather_at_[t] + block.first_element;
      std::int64_t* model = base + shape_.tensors[t].elements;
      for (std::size_t i = 0; i < n; ++i) {
        base[i] = bit_pattern(block.base[i]);
        model[i] = bit_pattern(block.models[0][i]);
      }
      return;
    }
    if (phase_ != Phase::select || problem_at_[t] == kNone) return;
    const std::span<T> importance = scratch_.of<T>().extra(n);
    importances(block, importance);
    const auto keys = scratch_.key_buffer(n);
    for (std::size_t i = 0; i < n; ++i) keys[i] = key_of(importance[i]);
    for (std::size_t p = problem_at_[t]; p < problem_at_[t] + 3; ++p)
      if (selection_->active(p)) selection_->count(p, std::span<const std::uint64_t>(keys));
  }

  void finish_pass(Reductions& reductions) override {
    if (phase_ == Phase::gather) {
      reductions.sum(gathered_);
      for (std::size_t t = 0; t < shape_.tensors.size(); ++t)
        if (gather_at_[t] != kNone) {
          whole_kl_[t] = shape_.tensors[t].compute == ComputeType::f64 ? gathered_divergence<double>(t)
                                                                       : gathered_divergence<float>(t);
        }
      gathered_.clear();
      gathered_.shrink_to_fit();
      phase_ = selection_ ? Phase::select : Phase::merge;
      return;
    }
    selection_->finish_pass(reductions);
    if (!selection_->done()) return;
    for (std::size_t t = 0; t < shape_.tensors.size(); ++t) {
      if (problem_at_[t] == kNone) continue;
      const std::size_t p = problem_at_[t];
      threshold_[t] = shape_.tensors[t].compute == ComputeType::f64 ? threshold<double>(p) : threshold<float>(p);
    }
    phase_ = Phase::merge;
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    const std::span<T> importance = scratch_.of<T>().extra(out.size());
    importances(block, importance);
    const T threshold = static_cast<T>(threshold_[block.tensor]);
    const std::span<const T> a = block.base, b = block.models[0];
    for (std::size_t i = 0; i < out.size(); ++i) {
      const bool fuse = importance[i] >= threshold;
      fused_ += fuse;
      out[i] = a[i] + (b[i] - a[i]) * static_cast<T>(fuse);
    }
  }

  void finish_merge(Reductions& reductions) override {
    std::int64_t fused = static_cast<std::int64_t>(fused_);
    reductions.sum(std::span<std::int64_t>(&fused, 1));
    fused_ = static_cast<std::uint64_t>(fused);
  }

  std::vector<MethodFinding> findings() const override {
    const double total = static_cast<double>(shape_.total_elements());
    return {{"fused fraction", total > 0 ? static_cast<double>(fused_) / total : 0.0}};
  }

 private:
  static std::int64_t bit_pattern(float x) { return static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(x)); }
  static std::int64_t bit_pattern(double x) { return std::bit_cast<std::int64_t>(x); }

  template <class T>
  std::uint64_t key_of(T x) const {
    return wide_keys_ ? bits::ordered_key(static_cast<double>(x)) : bits::ordered_key(x);
  }
  template <class T>
  T value_of(std::uint64_t key) const {
    return static_cast<T>(wide_keys_ ? bits::f64_from_ordered_key(key) : bits::f32_from_ordered_key(key));
  }

  // DynamicThresholdFusion.calculate_dynamic_threshold in T: median + 1.5 * (q3 - q1).
  template <class T>
  double threshold(std::size_t problem) const {
    const T q1 = value_of<T>(selection_->kth_key(problem));
    const T median = value_of<T>(selection_->kth_key(problem + 1));
    const T q3 = value_of<T>(selection_->kth_key(problem + 2));
    return median + T(1.5) * (q3 - q1);
  }

  template <class T>
  double gathered_divergence(std::size_t tensor) const {
    const std::size_t n = static_cast<std::size_t>(shape_.tensors[tensor].elements);
    std::vector<T> a(n), b(n);
    const std::int64_t* g = gathered_.data() + gather_at_[tensor];
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (sizeof(T) == 8) {
        a[i] = std::bit_cast<double>(g[i]);
        b[i] = std::bit_cast<double>(g[n + i]);
      } else {
        a[i] = std::bit_cast<float>(static_cast<std::uint32_t>(g[i]));
        b[i] = std::bit_cast<float>(static_cast<std::uint32_t>(g[n + i]));
      }
    }
    return divergence<T>(a, b);
  }

  // |b - a| * KL in T for every element of the block.
  template <class T>
  void importances(const Block<T>& block, std::span<T> out) {
    const std::size_t t = block.tensor;
    const std::span<const T> a = block.base, b = block.models[0];
    if (gather_at_[t] != kNone) {
      const T kl = static_cast<T>(whole_kl_[t]);
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::fabs(b[i] - a[i]) * kl;
      return;
    }
    const auto length = static_cast<std::size_t>(shape_.tensors[t].shape.back());
    for (std::size_t begin = 0; begin < out.size(); begin += length) {
      const T kl = static_cast<T>(row_divergence(block, begin, length));
      for (std::size_t i = begin; i < begin + length; ++i) out[i] = std::fabs(b[i] - a[i]) * kl;
    }
  }

  // The divergence of the vector at `begin` of the block (along the last dimension): computed in
  // the first pass that meets it, then kept. A rank meets its rows of a tensor in the same order
  // in every pass, so the rows it keeps are numbered from its first.
  template <class T>
  double row_divergence(const Block<T>& block, std::size_t begin, std::size_t length) {
    const std::size_t t = block.tensor;
    const std::uint64_t vector = (block.first_element + begin) / length;
    if (first_vector_[t] == kNone) first_vector_[t] = vector;
    std::vector<double>& kept = row_kl_[t];
    const std::uint64_t at = vector - first_vector_[t];
    if (at < kept.size()) return kept[at];
    if (at != kept.size())
      throw Error("arcee_fusion: the rows of tensor '" + shape_.tensors[t].name + "' came out of order");
    kept.push_back(divergence<T>(block.base.subspan(begin, length), block.models[0].subspan(begin, length)));
    return kept.back();
  }

  std::vector<std::uint64_t> gather_at_;        // per tensor of at most one dimension: its place in gathered_
  std::vector<std::int64_t> gathered_;          // their base and model values, as bit patterns
  std::vector<double> whole_kl_;                // per gathered tensor: its divergence
  std::vector<std::vector<double>> row_kl_;     // per matrix: the divergences of this rank's rows
  std::vector<std::uint64_t> first_vector_;     // per matrix: the first of them
  std::vector<std::size_t> problem_at_;         // per tensor: its first of three selection problems
  std::vector<double> threshold_;               // per tensor, a value of its compute type
  std::optional<RadixSelection> selection_;
  bool wide_keys_ = false;
  Phase phase_ = Phase::merge;
  std::uint64_t fused_ = 0;
  MethodScratch scratch_;
};

}  // namespace

extern const MethodSpec kArceeFusionSpec{
    .name = "arcee_fusion",
    .summary = "Arcee Fusion: the model's value where |model - base| * KL(softmax) is an outlier (above median + "
               "1.5 IQR), the base's elsewhere",
    .min_models = 1,
    .max_models = 1,
    .make = make_method_of<ArceeFusionMerge>,
};

}  // namespace mpimerge
