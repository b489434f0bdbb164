// Multi-SLERP (mergekit merge_methods/multislerp.py, multislerp; Goddard, "multislerp"): a
// barycentric interpolation of any number of models on a hypersphere, per tensor. With X_i the
// models' tensors (their task vectors X_i = theta_i - base when a base is given) and w_i their
// weights (divided by their sum with normalize_weights, the default):
//   n_i = |X_i|,  M = sum_i w_i X_i / (n_i + eps),  mean = M / |M|,
//   tangent step at mean:  sum_i w_i (u_i - (u_i . mean) mean) with u_i = X_i / (n_i + eps),
//   theta = (mean cos|tangent| + tangent sin|tangent| / |tangent|) * sum_i w_i n_i  (+ base)
// where |tangent| is the tangent sum's norm plus eps. In exact arithmetic the tangent sum is 0
// (the weighted tangent vectors at the weighted mean cancel: sum_i w_i (u_i . mean) = M . mean =
// |M|), so theta = mean * cos(eps) * sum_i w_i n_i; mergekit's float32 leaves rounding noise of
// about one ulp there, which we do not reproduce. |M| < eps (vectors that cancel) falls back to
// w_1 X_1 + w_2 X_2 for two models and is an error for more, as in mergekit; all task vectors
// zero gives the base (mergekit raises there with three or more models). One model: its tensor.
//
// Element-wise arithmetic is in the compute type, in mergekit's order (weights rounded to it and
// summed in model order, unit = X / (n + eps), M = sum of unit * w, mean = M / |M|, times the
// norm). The two global quantities, each |X_i| and |M|, are exact sums over all ranks (two
// analysis passes: M needs the norms), so the result does not depend on the rank count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {
namespace {

enum class Phase { norms, mean_norm, merge };
enum class Kind { copy, linear, spherical };  // per tensor: one model; |M| < eps; the formula

// What a tensor's merge needs, as values of its compute type (stored widened to double).
struct TensorPlan {
  Kind kind = Kind::spherical;
  std::vector<double> weights;  // w_i, normalised
  std::vector<double> norms;    // n_i
  std::vector<double> divisors; // n_i + eps
  double mean_norm = 1, cos_eps = 1, average_norm = 0;
  double eps = 1e-8;
};

class MultiSlerpMerge final : public MethodTemplate<MultiSlerpMerge> {
 public:
  explicit MultiSlerpMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "multislerp"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "multislerp");
    plans_.assign(shape.tensors.size(), {});
    for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
      TensorPlan& p = plans_[t];
      p.eps = params.number("eps", t);
      if (shape.models == 1) p.kind = Kind::copy;
      const bool normalize = params.flag("normalize_weights", t);
      const bool f64 = shape.tensors[t].compute == ComputeType::f64;
      for (std::size_t m = 0; m < shape.models; ++m) p.weights.push_back(params.number("weight", t, m));
      p.weights = f64 ? normalized<double>(p.weights, normalize, t) : normalized<float>(p.weights, normalize, t);
    }
    norm_sums_.assign(shape.tensors.size() * shape.models, ExactSum{});
    mean_sums_.assign(shape.tensors.size(), ExactSum{});
    phase_ = shape.models == 1 || shape.tensors.empty() ? Phase::merge : Phase::norms;
  }

  bool needs_pass() const override { return phase_ != Phase::merge; }

  template <class T>
  void analyze_block(const Block<T>& block) {
    const std::size_t t = block.tensor, models = block.models.size();
    if (phase_ == Phase::norms) {
      for (std::size_t m = 0; m < models; ++m) {
        ExactSum& s = norm_sums_[t * models + m];
        for (std::size_t i = 0; i < block.size(); ++i) {
          const T x = task(block, m, i);
          s.add_product(x, x);
        }
      }
    } else {
      for (std::size_t i = 0; i < block.size(); ++i) {
        const T x = weighted_unit_sum(block, i);
        mean_sums_[t].add_product(x, x);
      }
    }
  }

  void finish_pass(Reductions& reductions) override {
    if (phase_ == Phase::norms) {
      reduce_exact_sums(reductions, norm_sums_);
      for (std::size_t t = 0; t < plans_.size(); ++t) {
        const bool f64 = shape_.tensors[t].compute == ComputeType::f64;
        TensorPlan& p = plans_[t];
        for (std::size_t m = 0; m < shape_.models; ++m) {
          const double n = std::sqrt(norm_sums_[t * shape_.models + m].value());
          p.norms.push_back(f64 ? n : static_cast<float>(n));
          p.divisors.push_back(f64 ? n + p.eps : static_cast<double>(static_cast<float>(n) + static_cast<float>(p.eps)));
        }
      }
      norm_sums_.clear();
      phase_ = Phase::mean_norm;
      return;
    }
    reduce_exact_sums(reductions, mean_sums_);
    for (std::size_t t = 0; t < plans_.size(); ++t)
      if (shape_.tensors[t].compute == ComputeType::f64) settle<double>(t, mean_sums_[t].value());
      else settle<float>(t, mean_sums_[t].value());
    mean_sums_.clear();
    phase_ = Phase::merge;
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    const TensorPlan& p = plans_[block.tensor];
    const std::size_t n = out.size();
    if (p.kind == Kind::copy) {
      std::copy(block.models[0].begin(), block.models[0].end(), out.begin());
      return;
    }
    if (p.kind == Kind::linear) {  // mergekit: tensors[0] * weights[0] + tensors[1] * weights[1]
      for (std::size_t i = 0; i < n; ++i) {
        T r = task(block, 0, i) * static_cast<T>(p.weights[0]);
        for (std::size_t m = 1; m < block.models.size(); ++m) r = r + task(block, m, i) * static_cast<T>(p.weights[m]);
        out[i] = block.base.empty() ? r : r + block.base[i];
      }
      return;
    }
    const T mean_norm = static_cast<T>(p.mean_norm), cos_eps = static_cast<T>(p.cos_eps);
    const T average_norm = static_cast<T>(p.average_norm);
    for (std::size_t i = 0; i < n; ++i) {
      const T r = ((weighted_unit_sum(block, i) / mean_norm) * cos_eps) * average_norm;
      out[i] = block.base.empty() ? r : r + block.base[i];
    }
  }

 private:
  template <class T>
  static T task(const Block<T>& block, std::size_t m, std::size_t i) {
    return block.base.empty() ? block.models[m][i] : block.models[m][i] - block.base[i];
  }

  // M at element i: sum_m (X_m / (n_m + eps)) * w_m, in model order.
  template <class T>
  T weighted_unit_sum(const Block<T>& block, std::size_t i) const {
    const TensorPlan& p = plans_[block.tensor];
    T sum = T(0);
    for (std::size_t m = 0; m < block.models.size(); ++m)
      sum += (task(block, m, i) / static_cast<T>(p.divisors[m])) * static_cast<T>(p.weights[m]);
    return sum;
  }

  // The weights as mergekit's float tensor holds them: rounded to T, divided by their sum in T.
  template <class T>
  std::vector<double> normalized(const std::vector<double>& weights, bool normalize, std::size_t tensor) const {
    std::vector<double> out;
    T total = T(0);
    for (double w : weights) total += static_cast<T>(w);
    if (normalize && total == T(0))
      throw UsageError("multislerp: the weights of tensor '" + shape_.tensors[tensor].name +
                       "' sum to 0, so they cannot be normalised (set normalize_weights: false, or change the weights)");
    for (double w : weights) out.push_back(normalize ? static_cast<T>(w) / total : static_cast<T>(w));
    return out;
  }

  // After both passes: the tensor's kind and scalars, in T as mergekit computes them.
  template <class T>
  void settle(std::size_t tensor, double mean_norm_squared) {
    TensorPlan& p = plans_[tensor];
    if (p.kind == Kind::copy || shape_.tensors[tensor].elements == 0) return;
    const T mean_norm = static_cast<T>(std::sqrt(mean_norm_squared));
    if (mean_norm < static_cast<T>(p.eps)) {
      bool all_zero = true;
      for (double n : p.norms) all_zero = all_zero && n == 0.0;
      if (shape_.models != 2 && !all_zero)
        throw InputError("multislerp: the weighted unit vectors of tensor '" + shape_.tensors[tensor].name +
                         "' cancel (their weighted sum has norm " + std::to_string(static_cast<double>(mean_norm)) +
                         ", below eps): vectors pointing in opposite directions with weights that balance; change "
                         "the weights");
      p.kind = Kind::linear;
      return;
    }
    p.mean_norm = mean_norm;
    p.cos_eps = static_cast<T>(std::cos(static_cast<T>(p.eps)));
    T average = T(0);
    for (std::size_t m = 0; m < p.norms.size(); ++m) average += static_cast<T>(p.norms[m]) * static_cast<T>(p.weights[m]);
    p.average_norm = average;
  }

  MethodArgs args_;
  std::vector<TensorPlan> plans_;      // per tensor
  std::vector<ExactSum> norm_sums_;    // per tensor and model: |X_m|^2
  std::vector<ExactSum> mean_sums_;    // per tensor: |M|^2
  Phase phase_ = Phase::merge;
};

}  // namespace

extern const MethodSpec kMultiSlerpSpec{
    .name = "multislerp",
    .summary = "Multi-SLERP: weighted spherical interpolation of any number of models (or their task vectors from "
               "a base)",
    .parameters = {{.name = "weight",
                    .scope = ParameterScope::per_model,
                    .default_value = ParameterScalar::of_number(1.0),
                    .help = "the model's weight; job files must give it",
                    .required_in_job_files = true},
                   {.name = "normalize_weights",
                    .type = ParameterType::boolean,
                    .default_value = ParameterScalar::of_boolean(true),
                    .help = "divide the weights by their sum",
                    .sweepable = true,
                    .examples = {"true", "false"}},
                   {.name = "eps",
                    .default_value = ParameterScalar::of_number(1e-8),
                    .help = "added to each norm before dividing by it, and the tangent step's floor",
                    .range = {.min = 0, .min_open = true}}},
    .needs_base = false,
    .optional_base = true,
    .min_models = 1,
    .make = make_method_of<MultiSlerpMerge>,
};

}  // namespace mpimerge
