#pragma once
// Plain serial implementations of the methods of issue #4, one tensor at a time, written from the
// reference code each method names in docs/methods.md (mergekit, PEFT, the papers) and independent
// of src/ (only the DARE draw, which is part of the specification, comes from counter_rng.hpp).
// Whole tensors in memory, selections by sorting.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "mpimerge/util/counter_rng.hpp"

namespace mpimerge::testing {

// The indices of the k entries of largest |x|, ties broken by index (lower first).
template <class T>
std::vector<bool> top_k_mask(const std::vector<T>& x, std::uint64_t k) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return std::fabs(x[a]) > std::fabs(x[b]); });
  std::vector<bool> keep(x.size(), false);
  for (std::uint64_t i = 0; i < k && i < order.size(); ++i) keep[order[i]] = true;
  return keep;
}

inline std::uint64_t share(double fraction, std::size_t n) {
  return std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::floor(fraction * static_cast<double>(n))));
}

enum class OracleSparsify { none, magnitude, breadcrumbs, dare };

// mergekit's generalized task arithmetic (merge_methods/generalized_task_arithmetic.py) for one
// tensor: sparsify each task vector, weight it, optionally elect signs (TIES), normalise, scale.
template <class T>
struct OracleTaskVectors {
  OracleSparsify sparsify = OracleSparsify::none;
  bool elect = false, normalize = false;
  bool rescale = false;  // DARE: divide kept entries by the density
  double lambda = 1.0, gamma = 0.01;
  std::uint64_t seed = 0;
  std::vector<double> weights, densities;

  std::vector<T> merge(const std::string& name, const std::vector<T>& base, const std::vector<std::vector<T>>& models) const {
    const std::size_t n = base.size(), k = models.size();
    std::vector<std::vector<T>> x(k, std::vector<T>(n));
    for (std::size_t m = 0; m < k; ++m) {
      std::vector<T> tau(n);
      for (std::size_t i = 0; i < n; ++i) tau[i] = models[m][i] - base[i];
      const double d = densities.empty() ? 1.0 : densities[m];
      if (sparsify == OracleSparsify::magnitude && d < 1.0) {
        const auto keep = top_k_mask(tau, share(d, n));
        for (std::size_t i = 0; i < n; ++i) tau[i] = keep[i] ? tau[i] : T(0);
      } else if (sparsify == OracleSparsify::breadcrumbs && d < 1.0) {
        // Drop the int(gamma n) largest, and the smallest beyond int(density n) kept.
        std::int64_t top = static_cast<std::int64_t>(share(gamma, n));
        const std::int64_t target = static_cast<std::int64_t>(share(d, n));
        if (static_cast<std::int64_t>(n) - target - top < 0) top = static_cast<std::int64_t>(n) - target;
        const auto in_hi = top_k_mask(tau, static_cast<std::uint64_t>(top + target));
        const auto in_lo = top_k_mask(tau, static_cast<std::uint64_t>(top));
        for (std::size_t i = 0; i < n; ++i) tau[i] = in_hi[i] && !in_lo[i] ? tau[i] : T(0);
      } else if (sparsify == OracleSparsify::dare && d < 1.0) {
        const CounterRng rng(seed, m, 0, name);
        for (std::size_t i = 0; i < n; ++i)
          tau[i] = rng.uniform(i) < d ? (rescale ? tau[i] / static_cast<T>(d) : tau[i]) : T(0);
      }
      for (std::size_t i = 0; i < n; ++i) x[m][i] = tau[i] * static_cast<T>(weights[m]);
    }
    std::vector<T> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      T merged = T(0), divisor = T(0);
      if (elect) {
        T sum = T(0);
        for (std::size_t m = 0; m < k; ++m) sum += x[m][i];
        const int majority = sum >= T(0) ? 1 : -1;  // a zero sum elects +
        for (std::size_t m = 0; m < k; ++m) {
          const int sign = (x[m][i] > T(0)) - (x[m][i] < T(0));
          if (sign == majority) {
            merged += x[m][i];
            divisor += static_cast<T>(weights[m]);
          }
        }
        if (divisor == T(0)) divisor = T(1);
      } else {
        float d32 = 0;
        double d64 = 0;
        for (std::size_t m = 0; m < k; ++m) {
          merged += x[m][i];
          d32 += static_cast<float>(weights[m]);
          d64 += weights[m];
        }
        divisor = sizeof(T) == 8 ? static_cast<T>(d64) : static_cast<T>(static_cast<double>(d32));
      }
      if (normalize) merged /= divisor;
      if (lambda != 1.0) merged *= static_cast<T>(lambda);
      out[i] = base[i] + merged;
    }
    return out;
  }
};

// mergekit's linear: sum_t w_t theta_t / sum_t w_t, the weights rounded to T and summed in T in
// model order (torch: weights.sum() of a tensor in the models' dtype).
template <class T>
std::vector<T> oracle_linear(const std::vector<std::vector<T>>& models, const std::vector<double>& weights) {
  T total = T(0);
  for (double w : weights) total += static_cast<T>(w);
  std::vector<T> out(models[0].size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    T sum = T(0);
    for (std::size_t m = 0; m < models.size(); ++m) sum += static_cast<T>(weights[m]) * models[m][i];
    out[i] = sum / total;
  }
  return out;
}

// mergekit's slerp (merge_methods/slerp.py), in long double, to compare within a tolerance.
template <class T>
std::vector<double> oracle_slerp(double t, const std::vector<T>& v0, const std::vector<T>& v1) {
  long double n0 = 0, n1 = 0, dot = 0;
  for (std::size_t i = 0; i < v0.size(); ++i) {
    n0 += static_cast<long double>(v0[i]) * v0[i];
    n1 += static_cast<long double>(v1[i]) * v1[i];
    dot += static_cast<long double>(v0[i]) * v1[i];
  }
  n0 = std::sqrt(n0);
  n1 = std::sqrt(n1);
  const long double c = dot / ((n0 > 1e-8L ? n0 : 1) * (n1 > 1e-8L ? n1 : 1));
  long double c0 = 1 - t, c1 = t;
  if (std::fabs(c) <= 0.9995L) {
    const long double omega = std::acos(c), s = std::sin(omega);
    c0 = std::sin((1 - t) * omega) / s;
    c1 = std::sin(t * omega) / s;
  }
  std::vector<double> out(v0.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(c0 * v0[i] + c1 * v1[i]);
  return out;
}

// mergekit's model_stock over a whole tensor.
template <class T>
std::vector<double> oracle_model_stock(const std::vector<T>& base, const std::vector<std::vector<T>>& models) {
  const std::size_t k = models.size();
  auto dot = [&](std::size_t a, std::size_t b) {
    long double s = 0;
    for (std::size_t i = 0; i < base.size(); ++i)
      s += static_cast<long double>(models[a][i] - base[i]) * (models[b][i] - base[i]);
    return s;
  };
  long double cos_sum = 0;
  int pairs = 0;
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b, ++pairs)
      cos_sum += std::clamp(dot(a, b) / std::max(std::sqrt(dot(a, a)) * std::sqrt(dot(b, b)), 1e-6L), -1.0L, 1.0L);
  const long double c = cos_sum / pairs, t = k * c / (1 + (k - 1) * c);
  std::vector<double> out(base.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    long double mean = 0;
    for (const auto& m : models) mean += m[i];
    out[i] = static_cast<double>(t * (mean / k) + (1 - t) * base[i]);
  }
  return out;
}

// Fisher merging (Matena & Raffel's merging.py) with per-model Fisher norms given.
template <class T>
std::vector<double> oracle_fisher(const std::vector<std::vector<T>>& models, const std::vector<std::vector<T>>& fisher,
                                  const std::vector<double>& weights, const std::vector<double>& norms, double floor,
                                  bool favor_target) {
  std::vector<double> out(models[0].size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    double num = 0, den = 0;
    for (std::size_t m = 0; m < models.size(); ++m) {
      double f = fisher[m][i];
      if (!favor_target || m == 0) f = std::max(f, floor);
      const double c = weights[m] / norms[m] * f;
      num += c * models[m][i];
      den += c;
    }
    out[i] = num / den;
  }
  return out;
}

}  // namespace mpimerge::testing
