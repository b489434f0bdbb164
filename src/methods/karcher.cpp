// Karcher mean (mergekit merge_methods/karcher.py: KarcherTask.execute, karcher_merge_tensors):
// the Riemannian mean of the inputs' directions on the unit sphere, scaled by their mean norm.
// The inputs are the models and, when one is given, the base after them (mergekit gathers the
// base model's tensor with the others), all weighted alike, alpha_i = 1/N. Per tensor, with x_i
// the inputs flattened and n_i = |x_i|:
//   valid inputs: n_i > tol (none: theta = 0); their alphas normalised to sum to 1;
//   u = sum_valid alpha_i x_i / n_i, normalised (the first valid unit vector when |u| < tol);
//   at most max_iter times: T = sum over the valid i whose angle theta_i = acos(clamp(u . u_i))
//     is at least tol of alpha_i theta_i / sin(theta_i) (u_i - (u . u_i) u); stop when |T| < tol;
//     u = cos|T| u + sin|T| T / |T|, then divided by its norm when that exceeds tol;
//   theta = (sum_i alpha_i n_i) u   (the zero inputs count in the scale, as in mergekit).
//
// Distributed, exactly: u stays in the span of the inputs' unit vectors, u = sum_i g_i x_i / n_i,
// and every number the iteration needs is a quadratic form in the Gram matrix G_ij = x_i . x_j.
// One analysis pass sums G exactly over all ranks (ExactSum, rounded once); every rank then runs
// the iteration on the coefficients g in double, identically, and the merge is element-wise,
// theta = s * sum_i (g_i / n_i) x_i. This is mergekit's algorithm in exact arithmetic, carried
// out in double; mergekit iterates on float32 tensors, whose dot products resolve angles between
// nearly parallel inputs only to about 3e-4 (ours to about 1e-8).
#include <algorithm>
#include <cmath>
#include <vector>

#include "mpimerge/exact_sum.hpp"
#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {
namespace {

// theta = scale * sum_i unit_coefficients[i] * x_i.
struct KarcherMean {
  std::vector<double> unit_coefficients;  // g_i / n_i
  double scale = 0;
  bool converged = true;  // false: max_iter steps ran without |T| falling below tol
};

// karcher_merge_tensors on the Gram matrix of the inputs (p x p, row-major).
KarcherMean karcher_mean(const std::vector<double>& gram, std::size_t p, std::uint64_t max_iter, double tol) {
  KarcherMean out;
  out.unit_coefficients.assign(p, 0.0);
  const double alpha = 1.0 / static_cast<double>(p);
  std::vector<double> norm(p);
  std::vector<std::size_t> valid;
  for (std::size_t i = 0; i < p; ++i) {
    norm[i] = std::sqrt(gram[i * p + i]);
    out.scale += alpha * norm[i];
    if (norm[i] > tol) valid.push_back(i);
  }
  if (valid.empty()) return out;
  double alpha_sum = 0;
  for (std::size_t k = 0; k < valid.size(); ++k) alpha_sum += alpha;
  const double a = alpha / alpha_sum;
  // Dot products of unit vectors, and the quadratic form of two coefficient vectors.
  auto unit_dot = [&](std::size_t i, std::size_t j) { return gram[i * p + j] / (norm[i] * norm[j]); };
  auto form = [&](const std::vector<double>& x, const std::vector<double>& y) {
    double sum = 0;
    for (std::size_t i : valid)
      for (std::size_t j : valid) sum += x[i] * unit_dot(i, j) * y[j];
    return std::max(sum, 0.0);
  };
  std::vector<double> g(p, 0.0), tangent(p);
  for (std::size_t i : valid) g[i] = a;
  const double norm_u = std::sqrt(form(g, g));
  if (norm_u < tol) {
    std::fill(g.begin(), g.end(), 0.0);
    g[valid[0]] = 1.0;
  } else {
    for (double& x : g) x /= norm_u;
  }
  for (std::uint64_t step = 0; step < max_iter; ++step) {
    std::fill(tangent.begin(), tangent.end(), 0.0);
    for (std::size_t i : valid) {
      double dot = 0;
      for (std::size_t j : valid) dot += g[j] * unit_dot(j, i);
      dot = std::clamp(dot, -1.0, 1.0);
      const double theta = std::acos(dot);
      if (theta < tol) continue;
      const double f = a * (theta / std::sin(theta));
      tangent[i] += f;
      for (std::size_t j : valid) tangent[j] -= f * dot * g[j];
    }
    const double norm_t = std::sqrt(form(tangent, tangent));
    if (norm_t < tol) break;
    const double c = std::cos(norm_t), s = std::sin(norm_t);
    for (std::size_t j : valid) g[j] = c * g[j] + s * (tangent[j] / norm_t);
    const double u_norm = std::sqrt(form(g, g));
    if (u_norm > tol)
      for (double& x : g) x /= u_norm;
    if (step + 1 == max_iter) out.converged = false;
  }
  for (std::size_t i : valid) out.unit_coefficients[i] = g[i] / norm[i];
  return out;
}

class KarcherMerge final : public MethodTemplate<KarcherMerge> {
 public:
  explicit KarcherMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "karcher"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "karcher");
    points_ = shape.models + (shape.has_base ? 1 : 0);
    max_iter_.clear();
    tol_.clear();
    for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
      max_iter_.push_back(params.integer("max_iter", t));
      tol_.push_back(params.number("tol", t));
    }
    pairs_ = points_ * (points_ + 1) / 2;
    gram_sums_.assign(points_ > 1 ? shape.tensors.size() * pairs_ : 0, ExactSum{});
    means_.assign(shape.tensors.size(), {});
    unconverged_ = 0;
    measured_ = points_ == 1 || shape.tensors.empty();
  }

  bool needs_pass() const override { return !measured_; }

  template <class T>
  void analyze_block(const Block<T>& block) {
    ExactSum* s = gram_sums_.data() + block.tensor * pairs_;
    for (std::size_t i = 0, k = 0; i < points_; ++i)
      for (std::size_t j = i; j < points_; ++j, ++k) {
        const std::span<const T> x = point(block, i), y = point(block, j);
        for (std::size_t e = 0; e < x.size(); ++e) s[k].add_product(x[e], y[e]);
      }
  }

  void finish_pass(Reductions& reductions) override {
    reduce_exact_sums(reductions, gram_sums_);
    std::vector<double> gram(points_ * points_);
    for (std::size_t t = 0; t < means_.size(); ++t) {
      const ExactSum* s = gram_sums_.data() + t * pairs_;
      for (std::size_t i = 0, k = 0; i < points_; ++i)
        for (std::size_t j = i; j < points_; ++j, ++k) gram[i * points_ + j] = gram[j * points_ + i] = s[k].value();
      means_[t] = karcher_mean(gram, points_, max_iter_[t], tol_[t]);
      unconverged_ += !means_[t].converged;
    }
    gram_sums_.clear();
    measured_ = true;
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    if (points_ == 1) {
      std::copy(block.models[0].begin(), block.models[0].end(), out.begin());
      return;
    }
    const KarcherMean& mean = means_[block.tensor];
    std::fill(out.begin(), out.end(), T(0));
    for (std::size_t i = 0; i < points_; ++i) {
      const T c = static_cast<T>(mean.unit_coefficients[i]);
      const std::span<const T> x = point(block, i);
      for (std::size_t e = 0; e < out.size(); ++e) out[e] += c * x[e];
    }
    const T scale = static_cast<T>(mean.scale);
    for (auto& v : out) v = scale * v;
  }

  std::vector<MethodFinding> findings() const override {
    return {{"tensors not converged within max_iter", static_cast<double>(unconverged_)}};
  }

 private:
  // Input i: the models in order, then the base.
  template <class T>
  std::span<const T> point(const Block<T>& block, std::size_t i) const {
    return i < block.models.size() ? block.models[i] : block.base;
  }

  MethodArgs args_;
  std::size_t points_ = 0, pairs_ = 0;
  std::vector<std::uint64_t> max_iter_;  // per tensor
  std::vector<double> tol_;              // per tensor
  std::vector<ExactSum> gram_sums_;      // per tensor: x_i . x_j for i <= j
  std::vector<KarcherMean> means_;       // per tensor
  std::size_t unconverged_ = 0;
  bool measured_ = false;
};

}  // namespace

extern const MethodSpec kKarcherSpec{
    .name = "karcher",
    .summary = "Karcher mean: the Riemannian mean of the inputs' directions (the base counts as one), times their "
               "mean norm",
    .parameters = {{.name = "max_iter",
                    .type = ParameterType::integer,
                    .default_value = ParameterScalar::of_number(10.0, "10"),
                    .help = "most iterations of the Karcher mean",
                    .sweepable = true,
                    .examples = {"10", "1"}},
                   {.name = "tol",
                    .default_value = ParameterScalar::of_number(1e-5),
                    .help = "convergence tolerance: smaller norms, angles and steps count as zero",
                    .range = {.min = 0},
                    .sweepable = true,
                    .examples = {"1e-05", "0.5"}}},
    .needs_base = false,
    .min_models = 1,
    .make = make_method_of<KarcherMerge>,
};

}  // namespace mpimerge
