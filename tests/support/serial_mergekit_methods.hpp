#pragma once
// Plain serial implementations of mergekit's nuslerp, multislerp, karcher, sce, arcee_fusion and
// nearswap (arcee-ai/mergekit, merge_methods/), one whole tensor at a time, written from the
// reference code and independent of src/: the formulas as mergekit writes them (Karcher iterates
// on whole vectors, multislerp takes its tangent step), reductions in double, selections by
// sorting. Only ExactSum, the specified exactly rounded sum, comes from the library: arcee_fusion's
// and sce's sums are specified as exact (docs/methods.md).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "mpimerge/exact_sum.hpp"

namespace mpimerge::testing {

// nearswap_merge, in T: weight = clamp((1 / max(|a - b|, 1e-6)) * t, 0, 1).
template <class T>
std::vector<T> oracle_nearswap(double t, const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    T d = std::fabs(a[i] - b[i]);
    if (d < T(1e-6)) d = T(1e-6);
    T w = (T(1) / d) * T(t);
    w = w < T(0) ? T(0) : (w > T(1) ? T(1) : w);
    out[i] = w * b[i] + (T(1) - w) * a[i];
  }
  return out;
}

// The index sets nuslerp interpolates as vectors: the whole tensor, its rows along the last
// dimension, or its columns along the first.
inline std::vector<std::vector<std::size_t>> nuslerp_groups(const std::vector<std::uint64_t>& shape, bool flatten,
                                                            bool row_wise) {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<std::vector<std::size_t>> groups;
  if (n == 0) return groups;
  if (flatten || shape.size() <= 1) {
    groups.emplace_back(n);
    std::iota(groups[0].begin(), groups[0].end(), 0);
    return groups;
  }
  const std::size_t row = n / shape[0], last = shape.back();
  if (row_wise) {
    groups.resize(row);
    for (std::size_t i = 0; i < n; ++i) groups[i % row].push_back(i);
  } else {
    groups.resize(n / last);
    for (std::size_t i = 0; i < n; ++i) groups[i / last].push_back(i);
  }
  return groups;
}

// nuslerp(t, v0, v1) in double.
inline std::vector<double> oracle_nuslerp(double t, const std::vector<double>& v0, const std::vector<double>& v1,
                                          const std::vector<std::uint64_t>& shape, bool flatten, bool row_wise) {
  std::vector<double> out(v0.size());
  for (const auto& g : nuslerp_groups(shape, flatten, row_wise)) {
    double n0 = 0, n1 = 0, dot = 0;
    for (std::size_t i : g) n0 += v0[i] * v0[i], n1 += v1[i] * v1[i];
    n0 = std::max(std::sqrt(n0), 1e-7), n1 = std::max(std::sqrt(n1), 1e-7);
    for (std::size_t i : g) dot += (v0[i] / n0) * (v1[i] / n1);
    const double theta = std::acos(std::clamp(dot, -1.0, 1.0)), s = std::sin(theta);
    for (std::size_t i : g)
      out[i] = std::fabs(s) < 1e-8 ? (1 - t) * v0[i] + t * v1[i]
                                   : (std::sin((1 - t) * theta) * v0[i] + std::sin(t * theta) * v1[i]) / s;
  }
  return out;
}

inline double norm_of(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return std::sqrt(s);
}

// multislerp in double, with its tangent step; xs are the models' (task) vectors.
inline std::vector<double> oracle_multislerp(std::vector<double> w, const std::vector<std::vector<double>>& xs,
                                             bool normalize, double eps) {
  if (xs.size() == 1) return xs[0];
  const std::size_t n = xs[0].size(), k = xs.size();
  if (normalize) {
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    for (double& v : w) v /= total;
  }
  std::vector<double> norms(k), mean(n, 0.0);
  std::vector<std::vector<double>> unit(k, std::vector<double>(n));
  for (std::size_t m = 0; m < k; ++m) {
    norms[m] = norm_of(xs[m]);
    for (std::size_t i = 0; i < n; ++i) unit[m][i] = xs[m][i] / (norms[m] + eps), mean[i] += unit[m][i] * w[m];
  }
  const double mean_norm = norm_of(mean);
  for (double& v : mean) v /= mean_norm;
  std::vector<double> tangent(n, 0.0);
  for (std::size_t m = 0; m < k; ++m) {
    double dot = 0;
    for (std::size_t i = 0; i < n; ++i) dot += unit[m][i] * mean[i];
    for (std::size_t i = 0; i < n; ++i) tangent[i] += (unit[m][i] - dot * mean[i]) * w[m];
  }
  const double tn = norm_of(tangent) + eps;
  double average = 0;
  for (std::size_t m = 0; m < k; ++m) average += norms[m] * w[m];
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = (mean[i] * std::cos(tn) + tangent[i] * (std::sin(tn) / tn)) * average;
  return out;
}

// karcher_merge_tensors with equal weights, iterating on whole vectors in double.
inline std::vector<double> oracle_karcher(const std::vector<std::vector<double>>& xs, std::uint64_t max_iter,
                                          double tol) {
  if (xs.size() == 1) return xs[0];
  const std::size_t n = xs[0].size();
  const double alpha = 1.0 / static_cast<double>(xs.size());
  std::vector<double> norms;
  std::vector<std::vector<double>> units;
  for (const auto& x : xs) {
    norms.push_back(norm_of(x));
    if (norms.back() > tol) {
      units.push_back(x);
      for (double& v : units.back()) v /= norms.back();
    }
  }
  if (units.empty()) return std::vector<double>(n, 0.0);
  const double a = 1.0 / static_cast<double>(units.size());  // alpha / sum of the valid alphas
  auto dot = [&](const std::vector<double>& x, const std::vector<double>& y) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += x[i] * y[i];
    return s;
  };
  std::vector<double> u(n, 0.0);
  for (const auto& ui : units)
    for (std::size_t i = 0; i < n; ++i) u[i] += a * ui[i];
  const double norm_u = norm_of(u);
  if (norm_u < tol) u = units[0];
  else for (double& v : u) v /= norm_u;
  for (std::uint64_t step = 0; step < max_iter; ++step) {
    std::vector<double> tangent(n, 0.0);
    for (const auto& ui : units) {
      const double d = std::clamp(dot(u, ui), -1.0, 1.0), theta = std::acos(d);
      if (theta < tol) continue;
      for (std::size_t i = 0; i < n; ++i) tangent[i] += a * (theta / std::sin(theta)) * (ui[i] - d * u[i]);
    }
    const double nt = norm_of(tangent);
    if (nt < tol) break;
    for (std::size_t i = 0; i < n; ++i) u[i] = std::cos(nt) * u[i] + std::sin(nt) * (tangent[i] / nt);
    const double nu = norm_of(u);
    if (nu > tol) for (double& v : u) v /= nu;
  }
  double s = 0;
  for (double nm : norms) s += alpha * nm;
  for (double& v : u) v *= s;
  return u;
}

// sce_merge in T: the variance as torch's CPU kernel (Welford in double), the top k by sorting
// (equal variances by index), the means of squares exactly summed.
template <class T>
std::vector<T> oracle_sce(const std::vector<T>& base, const std::vector<std::vector<T>>& models, double topk) {
  const std::size_t n = base.size(), k = models.size();
  std::vector<std::vector<T>> tau(k, std::vector<T>(n));
  for (std::size_t m = 0; m < k; ++m)
    for (std::size_t i = 0; i < n; ++i) tau[m][i] = models[m][i] - base[i];
  if (topk < 1) {
    std::vector<T> var(n);
    for (std::size_t i = 0; i < n; ++i) {
      double mean = 0, m2 = 0;
      for (std::size_t m = 0; m < k; ++m) {
        const double x = tau[m][i], delta = x - mean;
        mean += delta / static_cast<double>(m + 1);
        m2 += delta * (x - mean);
      }
      var[i] = static_cast<T>(m2 / static_cast<double>(k));
    }
    const auto nonzero = static_cast<std::uint64_t>(std::count_if(var.begin(), var.end(), [](T v) { return v != T(0); }));
    const auto keep_count = topk <= 0 ? 0 : static_cast<std::uint64_t>(static_cast<float>(nonzero) * static_cast<float>(topk));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return var[x] > var[y]; });
    std::vector<bool> keep(n, false);
    for (std::uint64_t j = 0; j < keep_count; ++j) keep[order[j]] = true;
    for (auto& t : tau)
      for (std::size_t i = 0; i < n; ++i) t[i] *= T(keep[i]);
  }
  std::vector<T> w(k);
  T sum = T(0);
  for (std::size_t m = 0; m < k; ++m) {
    ExactSum squares;
    for (T x : tau[m]) squares.add(static_cast<T>(x * x));
    w[m] = static_cast<T>(squares.value()) / static_cast<T>(n);
    sum += w[m];
  }
  for (auto& v : w) v = std::fabs(static_cast<double>(sum)) < 1e-6 ? T(1) / static_cast<T>(k) : v / sum;
  std::vector<T> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    T total = T(0), merged = T(0), divisor = T(0);
    for (std::size_t m = 0; m < k; ++m) total += tau[m][i];
    for (std::size_t m = 0; m < k; ++m) {
      const T s = tau[m][i] > T(0) ? T(1) : (tau[m][i] < T(0) ? T(-1) : T(0));
      const T e = s == (total >= T(0) ? T(1) : T(-1)) ? w[m] : T(0);
      merged += tau[m][i] * e;
      divisor += e;
    }
    out[i] = base[i] + merged / std::max(divisor, T(1e-6));
  }
  return out;
}

// ArceeFusionMergeTask.execute in T, the divergence in double with exactly rounded sums and the
// quantiles of every entry by sorting.
template <class T>
std::vector<T> oracle_arcee_fusion(const std::vector<T>& a, const std::vector<T>& b, std::size_t length) {
  const std::size_t n = a.size();
  std::vector<T> importance(n);
  for (std::size_t begin = 0; begin < n; begin += length) {
    double ma = -HUGE_VAL, mb = -HUGE_VAL;
    for (std::size_t i = begin; i < begin + length; ++i) ma = std::max<double>(ma, a[i]), mb = std::max<double>(mb, b[i]);
    ExactSum za, zb, kl;
    for (std::size_t i = begin; i < begin + length; ++i) za.add(std::exp(a[i] - ma)), zb.add(std::exp(b[i] - mb));
    for (std::size_t i = begin; i < begin + length; ++i) {
      const double p = std::exp(b[i] - mb) / zb.value() + 1e-8, q = std::exp(a[i] - ma) / za.value() + 1e-8;
      kl.add(p * std::log(p / q));
    }
    for (std::size_t i = begin; i < begin + length; ++i) importance[i] = std::fabs(b[i] - a[i]) * static_cast<T>(kl.value());
  }
  std::vector<T> sorted = importance;
  std::sort(sorted.begin(), sorted.end());
  const T q1 = sorted[(n - 1) / 4], median = sorted[(n - 1) / 2], q3 = sorted[3 * (n - 1) / 4];
  const T threshold = median + T(1.5) * (q3 - q1);
  std::vector<T> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + (b[i] - a[i]) * static_cast<T>(importance[i] >= threshold);
  return out;
}

}  // namespace mpimerge::testing
