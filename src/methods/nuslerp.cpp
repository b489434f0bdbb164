// NuSLERP (mergekit merge_methods/nuslerp.py: NuSlerpTask.execute and nuslerp): spherical
// interpolation between exactly two models, or between their task vectors when a base is given
// (theta = base + nuslerp(t, theta_1 - base, theta_2 - base)), at t = w_2 / (w_1 + w_2) from the
// models' `weight`s (t = 0.5 when |w_1 + w_2| < 1e-6). What is one vector:
//   nuslerp_flatten: true (default)        the whole tensor;
//   flatten false, nuslerp_row_wise false  each vector along the last dimension (a matrix's rows);
//   flatten false, row_wise true           each vector along the first dimension (its columns).
// Tensors of at most one dimension are one vector in every case. Per vector v0, v1:
//   cos = v0.v1 / (max(|v0|, 1e-7) max(|v1|, 1e-7)) clamped to [-1, 1], theta = acos(cos),
//   s = sin(theta); where |s| < 1e-8: (1 - t) v0 + t v1,
//   else (sin((1 - t) theta) v0 + sin(t theta) v1) / s, divided last as mergekit does.
//
// Distributed, exactly: norms and dot products are exact sums (ExactSum), rounded once, and the
// coefficients are computed from them in double. A vector along the last dimension lies inside
// one row, and the blocks of such tensors hold whole rows, so it is summed where it lies. A whole
// tensor or a column spans the ranks: its three sums are reduced in an analysis pass. Columns
// need three sums per position of a row, so they are gathered in windows of tensors that fit the
// method's share of the memory budget, one pass per window (one pass in all unless the columns
// of a large model do not fit).
#include <algorithm>
#include <cmath>
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {
namespace {

constexpr double kWeightSumEpsilon = 1e-6;  // NuSlerpTask.execute: |w_1 + w_2| below gives t = 0.5
constexpr double kNormFloor = 1e-7;         // nuslerp's _normalize: norm.clamp(min=1e-7)
constexpr double kColinear = 1e-8;          // nuslerp: |sin(theta)| below is colinear, lerp
// What one globally summed vector costs while its pass runs: three accumulators and their words
// in the reduction.
constexpr std::size_t kBytesPerVector = 3 * (sizeof(ExactSum) + ExactSum::kWords * sizeof(std::int64_t));

enum class Span { tensor, rows, columns };

// theta = (c0 v0 + c1 v1) / divisor; a lerp is (1 - t, t, 1), and dividing by 1 is exact.
struct Coefficients {
  double c0 = 0, c1 = 0, divisor = 1;
  bool linear = false;
};

Coefficients coefficients(double t, double norm0_squared, double norm1_squared, double dot) {
  const double n0 = std::sqrt(norm0_squared), n1 = std::sqrt(norm1_squared);
  const double product = norm0_squared * norm1_squared;
  // v0.v1 / sqrt(|v0|^2 |v1|^2): equal vectors give exactly 1 (sqrt(x * x) is x in IEEE
  // arithmetic), so they are colinear, as in exact arithmetic; n0 * n1 may round to 1 ulp off.
  const double cos = n0 > kNormFloor && n1 > kNormFloor && std::isfinite(product)
                         ? dot / std::sqrt(product)
                         : dot / (std::max(n0, kNormFloor) * std::max(n1, kNormFloor));
  const double theta = std::acos(std::clamp(cos, -1.0, 1.0));
  const double s = std::sin(theta);
  if (std::fabs(s) < kColinear) return {1.0 - t, t, 1.0, true};
  return {std::sin((1.0 - t) * theta), std::sin(t * theta), s, false};
}

class NuSlerpMerge final : public MethodTemplate<NuSlerpMerge> {
 public:
  explicit NuSlerpMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "nuslerp"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "nuslerp");
    const std::size_t n = shape.tensors.size();
    t_.assign(n, 0.5);
    span_.assign(n, Span::tensor);
    vectors_.assign(n, 0);
    coefficient_at_.assign(n, 0);
    window_of_.assign(n, SIZE_MAX);
    sum_at_.assign(n, 0);
    windows_.clear();
    window_vectors_.clear();
    std::size_t coefficients = 0, in_window = 0;
    const std::size_t capacity = std::max<std::size_t>(1, shape.method_memory / kBytesPerVector);
    for (std::size_t i = 0; i < n; ++i) {
      const MergedTensor& info = shape.tensors[i];
      const double w0 = params.number("weight", i, 0), w1 = params.number("weight", i, 1);
      const double sum = w0 + w1;  // Python's sum(weights)
      t_[i] = std::fabs(sum) < kWeightSumEpsilon ? 0.5 : w1 / sum;
      if (info.shape.size() >= 2 && !params.flag("nuslerp_flatten", i))
        span_[i] = params.flag("nuslerp_row_wise", i) ? Span::columns : Span::rows;
      if (span_[i] == Span::rows || info.elements == 0) continue;
      vectors_[i] = span_[i] == Span::columns ? static_cast<std::size_t>(info.row_elements()) : 1;
      coefficient_at_[i] = coefficients;
      coefficients += vectors_[i];
      if (windows_.empty() || (in_window > 0 && in_window + vectors_[i] > capacity)) {
        windows_.emplace_back();
        window_vectors_.push_back(0);
        in_window = 0;
      }
      windows_.back().push_back(i);
      window_of_[i] = windows_.size() - 1;
      sum_at_[i] = in_window;
      in_window += vectors_[i];
      window_vectors_.back() = in_window;
    }
    coefficients_.assign(coefficients, Coefficients{});
    window_ = 0;
    sums_.assign(windows_.empty() ? 0 : 3 * window_vectors_[0], ExactSum{});
    lerped_ = lerped_rows_ = 0;
  }

  bool needs_pass() const override { return window_ < windows_.size(); }
  bool whole_rows(std::size_t tensor) const override { return span_[tensor] == Span::rows; }

  template <class T>
  void analyze_block(const Block<T>& block) {
    const std::size_t tensor = block.tensor;
    if (window_of_[tensor] != window_) return;
    ExactSum* s = sums_.data() + 3 * sum_at_[tensor];
    const std::uint64_t row = shape_.tensors[tensor].row_elements();
    for (std::size_t i = 0; i < block.size(); ++i) {
      const T x0 = task(block, 0, i), x1 = task(block, 1, i);
      const std::size_t v = span_[tensor] == Span::columns ? static_cast<std::size_t>((block.first_element + i) % row) : 0;
      s[3 * v].add_product(x0, x0);
      s[3 * v + 1].add_product(x1, x1);
      s[3 * v + 2].add_product(x0, x1);
    }
  }

  void finish_pass(Reductions& reductions) override {
    reduce_exact_sums(reductions, sums_);
    for (const std::size_t tensor : windows_[window_])
      for (std::size_t v = 0; v < vectors_[tensor]; ++v) {
        const ExactSum* s = sums_.data() + 3 * (sum_at_[tensor] + v);
        const Coefficients c = coefficients(t_[tensor], s[0].value(), s[1].value(), s[2].value());
        coefficients_[coefficient_at_[tensor] + v] = c;
        lerped_ += c.linear;
      }
    ++window_;
    sums_.assign(window_ < windows_.size() ? 3 * window_vectors_[window_] : 0, ExactSum{});
    sums_.shrink_to_fit();
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    const std::size_t tensor = block.tensor;
    if (span_[tensor] == Span::tensor) {
      apply(block, coefficients_[coefficient_at_[tensor]], 0, out.size(), out);
    } else if (span_[tensor] == Span::columns) {
      const std::uint64_t row = shape_.tensors[tensor].row_elements();
      for (std::size_t i = 0; i < out.size(); ++i)
        apply(block, coefficients_[coefficient_at_[tensor] + (block.first_element + i) % row], i, i + 1, out);
    } else {
      // Whole rows: every vector along the last dimension lies in this block.
      const auto length = static_cast<std::size_t>(shape_.tensors[tensor].shape.back());
      for (std::size_t begin = 0; begin < out.size(); begin += length) {
        ExactSum s[3];
        for (std::size_t i = begin; i < begin + length; ++i) {
          const T x0 = task(block, 0, i), x1 = task(block, 1, i);
          s[0].add_product(x0, x0);
          s[1].add_product(x1, x1);
          s[2].add_product(x0, x1);
        }
        const Coefficients c = coefficients(t_[tensor], s[0].value(), s[1].value(), s[2].value());
        lerped_rows_ += c.linear;
        apply(block, c, begin, begin + length, out);
      }
    }
  }

  void finish_merge(Reductions& reductions) override {
    std::int64_t rows = static_cast<std::int64_t>(lerped_rows_);
    reductions.sum(std::span<std::int64_t>(&rows, 1));
    lerped_rows_ = static_cast<std::size_t>(rows);
  }

  std::vector<MethodFinding> findings() const override {
    return {{"vectors interpolated linearly (nearly parallel)", static_cast<double>(lerped_ + lerped_rows_)}};
  }

 private:
  // Model m's vector at element i: its task vector when there is a base (rounded as mergekit's).
  template <class T>
  static T task(const Block<T>& block, std::size_t m, std::size_t i) {
    return block.base.empty() ? block.models[m][i] : block.models[m][i] - block.base[i];
  }

  template <class T>
  static void apply(const Block<T>& block, const Coefficients& c, std::size_t begin, std::size_t end, std::span<T> out) {
    const T c0 = static_cast<T>(c.c0), c1 = static_cast<T>(c.c1), divisor = static_cast<T>(c.divisor);
    for (std::size_t i = begin; i < end; ++i) {
      const T r = (c0 * task(block, 0, i) + c1 * task(block, 1, i)) / divisor;
      out[i] = block.base.empty() ? r : block.base[i] + r;
    }
  }

  MethodArgs args_;
  std::vector<double> t_;                      // per tensor
  std::vector<Span> span_;                     // per tensor
  std::vector<std::size_t> vectors_;           // per tensor: globally summed vectors (0 for rows)
  std::vector<std::size_t> coefficient_at_;    // per tensor: its first vector in coefficients_
  std::vector<std::size_t> window_of_;         // per tensor: the pass that sums it (SIZE_MAX: none)
  std::vector<std::size_t> sum_at_;            // per tensor: its first vector in its window's sums
  std::vector<std::vector<std::size_t>> windows_;  // the tensors of each pass
  std::vector<std::size_t> window_vectors_;    // per window: its vectors
  std::size_t window_ = 0;                     // the pass running
  std::vector<ExactSum> sums_;                 // the window's |v0|^2, |v1|^2, v0.v1 per vector
  std::vector<Coefficients> coefficients_;     // of every globally summed vector
  std::size_t lerped_ = 0, lerped_rows_ = 0;
};

}  // namespace

extern const MethodSpec kNuSlerpSpec{
    .name = "nuslerp",
    .summary = "NuSLERP: spherical interpolation between two models (or their task vectors from a base) at "
               "t = w2 / (w1 + w2)",
    .parameters = {{.name = "weight",
                    .scope = ParameterScope::per_model,
                    .default_value = ParameterScalar::of_number(1.0),
                    .help = "the model's weight: nuslerp interpolates at t = w2 / (w1 + w2); job files must give it",
                    .required_in_job_files = true},
                   {.name = "nuslerp_row_wise",
                    .type = ParameterType::boolean,
                    .default_value = ParameterScalar::of_boolean(false),
                    .help = "without flattening: interpolate a matrix's columns (vectors along dimension 0) instead of "
                            "its rows",
                    .sweepable = true,
                    .examples = {"false", "true"}},
                   {.name = "nuslerp_flatten",
                    .type = ParameterType::boolean,
                    .default_value = ParameterScalar::of_boolean(true),
                    .help = "interpolate each tensor as one vector (false: per row or column)",
                    .sweepable = true,
                    .examples = {"false", "true"}}},
    .needs_base = false,
    .optional_base = true,
    .min_models = 2,
    .max_models = 2,
    .make = make_method_of<NuSlerpMerge>,
};

}  // namespace mpimerge
