// SCE: Select, Calculate, Erase (FuseChat 2.0, arXiv:2408.07990; mergekit merge_methods/sce.py:
// sce_merge, sce_mask, sce_weight, and get_mask of generalized_task_arithmetic.py). Per tensor,
// with tau_m = theta_m - base the models' task vectors:
//   Select (select_topk < 1): keep the k entries whose variance across the models is largest,
//     var = torch.var(tau, dim=0, unbiased=False), k = int(count of var != 0 * select_topk)
//     (select_topk <= 0 or k = 0 keeps nothing); the others are zeroed in every task vector;
//   Calculate: w_m = mean over the tensor of tau_m^2, divided by sum_m w_m (1/N each when that
//     sum is below 1e-6);
//   Erase: the sign elected per entry is that of sum_m tau_m (a zero sum elects +); entries of
//     another sign (or zero) are erased;
//   theta = base + sum_m w_m tau_m [agrees] / max(sum_m w_m [agrees], 1e-6).
// In mergekit's dtype arithmetic and order: the variance as torch's CPU kernel computes it
// (Welford in double over the models in order, rounded to the tensor's type); k from float32
// arithmetic (torch multiplies the integer count by the density as float32 tensors); squares,
// weights and sums in the compute type, in model order. mergekit passes the models in the order
// of a Python set (it varies with the hash seed); we use the job's order.
//
// Distributed, exactly: the count of nonzero variances is an integer sum; the k-th largest
// variance is found by radix selection over integer keys, ties at the cut broken by index (lower
// first; torch's topk leaves them unspecified) with one exclusive prefix sum over the ranks, as
// the magnitude cut of the task-vector family; the sums of squares are exact sums (ExactSum).
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/float_bits.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"
#include "mpimerge/methods/scratch.hpp"
#include "mpimerge/methods/sparsify.hpp"
#include "mpimerge/selection/radix.hpp"

namespace mpimerge {
namespace {

constexpr double kWeightSumEpsilon = 1e-6;  // sce_weight: a smaller sum of weights gives 1/N each
constexpr double kDivisorFloor = 1e-6;      // sce_merge: sum of erased weights .clamp(min=1e-6)

enum class Phase { nonzero, select, tie_counts, weights, merge };
enum class Mask { all, none, cut };

struct TensorState {
  double topk = 1;
  Mask mask = Mask::all;
  std::int64_t nonzero = 0;  // entries with nonzero variance (this rank's, then all ranks')
  sparsify::Cut cut;
  std::optional<std::size_t> problem;  // its selection problem
  std::vector<double> weights;         // w_m, values of the compute type
};

class SceMerge final : public MethodTemplate<SceMerge> {
 public:
  explicit SceMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "sce"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "sce");
    tensors_.assign(shape.tensors.size(), {});
    bool counting = false;
    for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
      TensorState& s = tensors_[t];
      s.topk = params.number("select_topk", t);
      s.mask = s.topk >= 1.0 ? Mask::all : s.topk <= 0.0 ? Mask::none : Mask::cut;
      counting = counting || s.mask == Mask::cut;
    }
    squares_.assign(shape.tensors.size() * shape.models, ExactSum{});
    wide_keys_ = shape.any_float64();
    selection_.reset();
    phase_ = counting ? Phase::nonzero : Phase::weights;
  }

  bool needs_pass() const override { return phase_ != Phase::merge; }

  template <class T>
  void analyze_block(const Block<T>& block) {
    TensorState& s = tensors_[block.tensor];
    const std::size_t n = block.size(), models = block.models.size();
    const std::span<T> tau = scratch_.of<T>().extra(models);
    switch (phase_) {
      case Phase::nonzero:
        if (s.mask != Mask::cut) return;
        for (std::size_t i = 0; i < n; ++i) {
          task_vectors(block, i, tau);
          s.nonzero += variance<T>(tau) != T(0);
        }
        return;
      case Phase::select: {
        if (!s.problem || !selection_->active(*s.problem)) return;
        const auto keys = scratch_.key_buffer(n);
        for (std::size_t i = 0; i < n; ++i) {
          task_vectors(block, i, tau);
          keys[i] = variance_key(variance<T>(tau));
        }
        selection_->count(*s.problem, std::span<const std::uint64_t>(keys));
        return;
      }
      case Phase::tie_counts:
        if (!s.cut.needs_tie_break()) return;
        for (std::size_t i = 0; i < n; ++i) {
          task_vectors(block, i, tau);
          s.cut.tied_seen += variance_key(variance<T>(tau)) == s.cut.key;
        }
        return;
      case Phase::weights:
        for (std::size_t i = 0; i < n; ++i) {
          task_vectors(block, i, tau);
          apply_mask(s, tau);
          for (std::size_t m = 0; m < models; ++m)
            squares_[block.tensor * models + m].add(static_cast<T>(tau[m] * tau[m]));
        }
        return;
      case Phase::merge: return;
    }
  }

  void finish_pass(Reductions& reductions) override {
    switch (phase_) {
      case Phase::nonzero: count_to_cuts(reductions); break;
      case Phase::select:
        selection_->finish_pass(reductions);
        if (!selection_->done()) break;
        for (std::size_t t = 0; t < tensors_.size(); ++t) {
          TensorState& s = tensors_[t];
          if (!s.problem) continue;
          const std::size_t p = *s.problem;
          sparsify::settle_cut(s.cut, k_[p], shape_.tensors[t].elements, selection_->kth_key(p),
                               selection_->count_below(p), selection_->count_equal(p));
        }
        phase_ = tie_breaks() ? Phase::tie_counts : Phase::weights;
        break;
      case Phase::tie_counts: {
        std::vector<std::int64_t> seen;
        for (const auto& s : tensors_)
          if (s.cut.needs_tie_break()) seen.push_back(s.cut.tied_seen);
        reductions.exclusive_prefix_sum(seen);
        std::size_t i = 0;
        for (auto& s : tensors_)
          if (s.cut.needs_tie_break()) s.cut.tied_before = seen[i++];
        phase_ = Phase::weights;
        break;
      }
      case Phase::weights:
        reduce_exact_sums(reductions, squares_);
        for (std::size_t t = 0; t < tensors_.size(); ++t)
          if (shape_.tensors[t].compute == ComputeType::f64) settle_weights<double>(t);
          else settle_weights<float>(t);
        squares_.clear();
        phase_ = Phase::merge;
        break;
      case Phase::merge: break;
    }
    for (auto& s : tensors_) s.cut.tied_seen = 0;
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    TensorState& s = tensors_[block.tensor];
    const std::size_t models = block.models.size();
    const std::span<T> tau = scratch_.of<T>().extra(models);
    const T floor = static_cast<T>(kDivisorFloor);
    for (std::size_t i = 0; i < out.size(); ++i) {
      task_vectors(block, i, tau);
      apply_mask(s, tau);
      T sum = T(0);
      for (const T x : tau) sum += x;
      const bool positive = sum >= T(0);  // get_mask(method="sum"): a zero sum elects +
      T merged = T(0), divisor = T(0);
      for (std::size_t m = 0; m < models; ++m) {
        const bool agrees = positive ? tau[m] > T(0) : tau[m] < T(0);
        const T weight = static_cast<T>(s.weights[m]) * static_cast<T>(agrees);
        merged += tau[m] * weight;
        divisor += weight;
      }
      out[i] = block.base[i] + merged / std::max(divisor, floor);
    }
  }

  std::vector<MethodFinding> findings() const override {
    std::uint64_t kept = 0, total = 0;
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
      const std::uint64_t n = shape_.tensors[t].elements;
      total += n;
      const TensorState& s = tensors_[t];
      kept += s.mask == Mask::all ? n : s.mask == Mask::none ? 0 : s.cut.kind == sparsify::Cut::Kind::all ? n
                                                                   : s.cut.kind == sparsify::Cut::Kind::none ? 0
                                                                                                             : k_of(t);
    }
    return {{"selected fraction", total ? static_cast<double>(kept) / static_cast<double>(total) : 0.0}};
  }

 private:
  template <class T>
  static void task_vectors(const Block<T>& block, std::size_t i, std::span<T> tau) {
    for (std::size_t m = 0; m < tau.size(); ++m) tau[m] = block.models[m][i] - block.base[i];
  }

  // torch.var(dim=0, unbiased=False) on the CPU: Welford's update in double, model by model.
  template <class T>
  static T variance(std::span<const T> tau) {
    double mean = 0, m2 = 0;
    for (std::size_t m = 0; m < tau.size(); ++m) {
      const double x = tau[m], delta = x - mean;
      mean += delta / static_cast<double>(m + 1);
      m2 += delta * (x - mean);
    }
    return static_cast<T>(m2 / static_cast<double>(tau.size()));
  }

  template <class T>
  std::uint64_t variance_key(T var) const {
    return wide_keys_ ? bits::magnitude_key(static_cast<double>(var)) : bits::magnitude_key(var);
  }

  // Zeroes the task vectors of an entry outside the selection (multiplied by 0, as mergekit's mask).
  template <class T>
  void apply_mask(TensorState& s, std::span<T> tau) const {
    if (s.mask == Mask::all) return;
    const bool keep = s.mask == Mask::cut && s.cut.contains(variance_key(variance<T>(tau)));
    if (keep) return;
    for (auto& x : tau) x *= T(0);
  }

  // The global counts of nonzero variances give each tensor's k and its cut.
  void count_to_cuts(Reductions& reductions) {
    std::vector<std::int64_t> counts;
    for (const auto& s : tensors_) counts.push_back(s.nonzero);
    reductions.sum(counts);
    std::vector<std::uint64_t> ranks;
    k_.clear();
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
      TensorState& s = tensors_[t];
      s.nonzero = counts[t];
      if (s.mask != Mask::cut) continue;
      // sce_mask: int(nonzero * density), a float32 product (an int64 tensor times a Python float).
      const auto k = static_cast<std::uint64_t>(static_cast<float>(s.nonzero) * static_cast<float>(s.topk));
      const std::uint64_t n = shape_.tensors[t].elements;
      s.cut.kind = sparsify::cut_kind(k, n);
      if (s.cut.kind != sparsify::Cut::Kind::threshold) continue;
      s.problem = ranks.size();
      ranks.push_back(sparsify::ascending_rank(k, n));
      k_.push_back(k);
    }
    if (!ranks.empty()) selection_.emplace(std::move(ranks), wide_keys_ ? 63u : 31u);
    phase_ = selection_ ? Phase::select : Phase::weights;
  }

  bool tie_breaks() const {
    for (const auto& s : tensors_)
      if (s.cut.needs_tie_break()) return true;
    return false;
  }

  std::uint64_t k_of(std::size_t tensor) const { return tensors_[tensor].problem ? k_[*tensors_[tensor].problem] : 0; }

  // sce_weight in T: mean of the squares, divided by their sum (1/N each when it is below 1e-6).
  template <class T>
  void settle_weights(std::size_t tensor) {
    const std::size_t models = shape_.models;
    const T n = static_cast<T>(shape_.tensors[tensor].elements);
    std::vector<T> w(models);
    T sum = T(0);
    for (std::size_t m = 0; m < models; ++m) {
      w[m] = static_cast<T>(squares_[tensor * models + m].value()) / n;
      sum += w[m];
    }
    TensorState& s = tensors_[tensor];
    s.weights.clear();
    for (std::size_t m = 0; m < models; ++m)
      s.weights.push_back(std::fabs(static_cast<double>(sum)) < kWeightSumEpsilon ? T(1) / static_cast<T>(models)
                                                                                  : w[m] / sum);
  }

  MethodArgs args_;
  std::vector<TensorState> tensors_;  // per tensor
  std::vector<ExactSum> squares_;     // per tensor and model: sum of the selected tau^2
  std::optional<RadixSelection> selection_;
  std::vector<std::uint64_t> k_;      // per selection problem: entries kept
  bool wide_keys_ = false;
  Phase phase_ = Phase::merge;
  MethodScratch scratch_;
};

}  // namespace

extern const MethodSpec kSceSpec{
    .name = "sce",
    .summary = "SCE: select the entries whose task vectors vary most, weight each model by its mean squared task "
               "vector, erase minority signs",
    .parameters = {{.name = "select_topk",
                    .default_value = ParameterScalar::of_number(1.0),
                    .help = "share of the entries kept, those of largest variance across the models (1: all)",
                    .range = {.min = 0, .max = 1},
                    .sweepable = true,
                    .examples = {"0.1", "0.5"}},
                   {.name = "int8_mask",
                    .type = ParameterType::boolean,
                    .default_value = ParameterScalar::of_boolean(false),
                    .help = "accepted for mergekit job files; no effect here (a memory saving in mergekit)",
                    .inert = true}},
    .min_models = 1,
    .make = make_method_of<SceMerge>,
};

}  // namespace mpimerge
