#pragma once
// A plain serial implementation of the formulas of issue #2, written from the TIES paper's code
// (prateeky2806/ties-merging, merge_utils.py) and independent of src/: whole tensors in memory,
// thresholds by sorting, no keys, no blocks. Tests compare the distributed engine against it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace mpimerge::testing {

enum class OracleScope { model, tensor };
enum class OracleMerge { mean, sum, max };

// One tensor of every input, decoded to the compute type T.
template <class T>
struct OracleTensor {
  std::vector<T> base;
  std::vector<std::vector<T>> models;
};

// k = d - int(d * density); keep |tau| >= the k-th smallest |tau| (all of them when k = 0).
inline double kth_smallest_magnitude(std::vector<double> magnitudes, double density) {
  const std::uint64_t d = magnitudes.size();
  const std::uint64_t k = d - static_cast<std::uint64_t>(std::floor(static_cast<double>(d) * density));
  if (k == 0 || d == 0) return 0.0;
  std::nth_element(magnitudes.begin(), magnitudes.begin() + static_cast<long>(k - 1), magnitudes.end());
  return magnitudes[k - 1];
}

// TIES over a model made of float tensors (f32) and double tensors (f64). Returns the merged
// values of each tensor in its compute type.
struct OracleTies {
  double density = 0.2, lambda = 1.0;
  OracleScope scope = OracleScope::model;
  OracleMerge merge = OracleMerge::mean;

  template <class T>
  static std::vector<std::vector<T>> task_vectors(const OracleTensor<T>& t) {
    std::vector<std::vector<T>> tau(t.models.size(), std::vector<T>(t.base.size()));
    for (std::size_t m = 0; m < t.models.size(); ++m)
      for (std::size_t i = 0; i < t.base.size(); ++i) tau[m][i] = t.models[m][i] - t.base[i];
    return tau;
  }

  // thresholds[tensor][model]
  template <class F, class D>
  std::vector<std::vector<double>> thresholds(const std::vector<OracleTensor<F>>& f32,
                                              const std::vector<OracleTensor<D>>& f64,
                                              std::size_t models) const {
    std::vector<std::vector<std::vector<double>>> magnitudes;  // [tensor][model][i]
    auto collect = [&](const auto& tensors) {
      for (const auto& t : tensors) {
        auto tau = task_vectors(t);
        std::vector<std::vector<double>> per_model(models);
        for (std::size_t m = 0; m < models; ++m)
          for (auto x : tau[m]) per_model[m].push_back(std::fabs(static_cast<double>(x)));
        magnitudes.push_back(std::move(per_model));
      }
    };
    collect(f32);
    collect(f64);
    std::vector<std::vector<double>> out(magnitudes.size(), std::vector<double>(models));
    for (std::size_t m = 0; m < models; ++m) {
      if (scope == OracleScope::model) {
        std::vector<double> all;
        for (const auto& t : magnitudes) all.insert(all.end(), t[m].begin(), t[m].end());
        const double thr = kth_smallest_magnitude(all, density);
        for (auto& t : out) t[m] = thr;
      } else {
        for (std::size_t t = 0; t < magnitudes.size(); ++t) out[t][m] = kth_smallest_magnitude(magnitudes[t][m], density);
      }
    }
    return out;
  }

  template <class T>
  static std::vector<std::vector<T>> trimmed(const OracleTensor<T>& t, const std::vector<double>& thr) {
    auto tau = task_vectors(t);
    for (std::size_t m = 0; m < tau.size(); ++m)
      for (auto& x : tau[m])
        if (std::fabs(static_cast<double>(x)) < thr[m]) x = T(0);
    return tau;
  }

  template <class T>
  static int sign_of_sum(const std::vector<std::vector<T>>& tr, std::size_t i) {
    T s = T(0);
    for (const auto& m : tr) s += m[i];
    return s > 0 ? 1 : (s < 0 ? -1 : 0);
  }

  template <class T>
  std::vector<T> merge_tensor(const OracleTensor<T>& t, const std::vector<double>& thr, int majority) const {
    const auto tr = trimmed(t, thr);
    std::vector<T> out(t.base.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      int gamma = sign_of_sum(tr, i);
      if (gamma == 0) gamma = majority;
      T sum = 0, largest = 0;
      int count = 0;
      for (const auto& m : tr) {
        const bool agrees = gamma > 0 ? m[i] > 0 : m[i] < 0;
        if (!agrees) continue;
        sum += m[i];
        largest = std::max(largest, std::abs(m[i]));
        ++count;
      }
      T tv = merge == OracleMerge::mean ? sum / static_cast<T>(std::max(count, 1))
             : merge == OracleMerge::sum ? sum
                                         : largest * static_cast<T>(gamma);
      out[i] = t.base[i] + static_cast<T>(lambda) * tv;
    }
    return out;
  }

  // Merges every tensor; f32 tensors come first in the thresholds' order, then f64 ones.
  template <class F, class D>
  void run(const std::vector<OracleTensor<F>>& f32, const std::vector<OracleTensor<D>>& f64,
           std::vector<std::vector<F>>& out32, std::vector<std::vector<D>>& out64) const {
    const std::size_t models = !f32.empty() ? f32[0].models.size() : f64[0].models.size();
    const auto thr = thresholds(f32, f64, models);
    long long balance = 0;  // sum of all elected signs over the whole model
    for (std::size_t t = 0; t < f32.size(); ++t) {
      const auto tr = trimmed(f32[t], thr[t]);
      for (std::size_t i = 0; i < f32[t].base.size(); ++i) balance += sign_of_sum(tr, i);
    }
    for (std::size_t t = 0; t < f64.size(); ++t) {
      const auto tr = trimmed(f64[t], thr[f32.size() + t]);
      for (std::size_t i = 0; i < f64[t].base.size(); ++i) balance += sign_of_sum(tr, i);
    }
    const int majority = balance > 0 ? 1 : (balance < 0 ? -1 : 0);
    out32.clear();
    out64.clear();
    for (std::size_t t = 0; t < f32.size(); ++t) out32.push_back(merge_tensor(f32[t], thr[t], majority));
    for (std::size_t t = 0; t < f64.size(); ++t) out64.push_back(merge_tensor(f64[t], thr[f32.size() + t], majority));
  }
};

}  // namespace mpimerge::testing
