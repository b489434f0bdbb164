#include "mpimerge/analysis/task_vector_stats.hpp"

#include <cmath>
#include <stdexcept>

#include "mpimerge/error.hpp"
#include "mpimerge/float_bits.hpp"
#include "mpimerge/methods/ties_kernels.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

constexpr int kMassBits = 52;           // each tau^2 in units of 2^-52 of the task's largest
constexpr int kLowBits = 26;            // split into two int64 lanes so that sums cannot overflow
constexpr std::int64_t kLowMask = (std::int64_t{1} << kLowBits) - 1;
constexpr std::size_t kCounts = 3;      // kept entries, parameters with >= 2 kept, conflicting

}  // namespace

namespace analysis {

std::uint64_t quantile_rank(std::uint64_t n, double q) {
  const auto k = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n)));
  return std::clamp<std::uint64_t>(k, 1, std::max<std::uint64_t>(n, 1));
}

void check_options(const AnalysisOptions& options) {
  auto check = [](const std::vector<double>& levels, const char* option) {
    if (levels.empty()) throw UsageError(std::string("--") + option + ": give at least one value");
    for (double x : levels)
      if (!(x > 0.0 && x <= 1.0))
        throw UsageError(std::string("--") + option + ": " + format_number(x) + " is not in (0, 1]");
  };
  check(options.quantiles, "quantiles");
  check(options.mass_tops, "mass-tops");
  check(options.densities, "densities");
}

}  // namespace analysis

TaskVectorAnalysis::TaskVectorAnalysis(AnalysisOptions options) : options_(std::move(options)) {
  analysis::check_options(options_);
  stats_.options = options_;
}

std::size_t TaskVectorAnalysis::per_task() const {
  return options_.quantiles.size() + 1 + options_.mass_tops.size() + options_.densities.size();
}

void TaskVectorAnalysis::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  wide_keys_ = shape.any_float64();
  const std::uint64_t n = shape.total_elements();
  stats_ = TaskVectorStats{};
  stats_.options = options_;
  stats_.parameters = n;
  for (const auto& t : shape.tensors) {
    stats_.tensor_names.push_back(t.name);
    stats_.tensor_elements.push_back(t.elements);
  }
  stats_.tasks.assign(shape.models, TaskStats{});
  const std::size_t d = options_.densities.size();
  stats_.conflicts.assign(d, SignConflicts{});
  stats_.per_tensor.assign(shape.tensors.size(), std::vector<SignConflicts>(d));
  for (std::size_t t = 0; t < shape.tensors.size(); ++t)
    for (auto& c : stats_.per_tensor[t]) c.parameters = shape.tensors[t].elements;
  for (auto& c : stats_.conflicts) c.parameters = n;
  if (n == 0 || shape.models == 0) {
    phase_ = Phase::done;
    return;
  }
  // The ranks, per task, in the order of per_task(): 0 asks for no cut (density 1), key 0.
  std::vector<std::uint64_t> k;
  for (std::size_t m = 0; m < shape.models; ++m) {
    for (double q : options_.quantiles) k.push_back(analysis::quantile_rank(n, q));
    k.push_back(n);
    for (double top : options_.mass_tops) k.push_back(ties::kth_smallest_rank(n, top));
    for (double density : options_.densities) k.push_back(ties::kth_smallest_rank(n, density));
  }
  keys_.assign(k.size(), 0);
  below_.assign(k.size(), 0);
  radix_.emplace(std::move(k), wide_keys_ ? 63u : 31u);
  phase_ = radix_->done() ? Phase::tally : Phase::select;
  if (phase_ == Phase::tally) finish_select();
}

template <class T>
void TaskVectorAnalysis::select_block(const Block<T>& block) {
  tau_keys_.resize(block.size());
  for (std::size_t m = 0; m < block.models.size(); ++m) {
    for (std::size_t i = 0; i < block.size(); ++i)
      tau_keys_[i] = ties::key_of<T>(block.models[m][i] - block.base[i], wide_keys_);
    for (std::size_t j = 0; j < per_task(); ++j)
      if (radix_->active(problem(m, j))) radix_->count(problem(m, j), tau_keys_);
  }
}

template <class T>
void TaskVectorAnalysis::tally_block(const Block<T>& block) {
  const std::size_t n = block.size(), tasks = block.models.size();
  const std::size_t q = options_.quantiles.size(), tops = options_.mass_tops.size();
  const std::size_t densities = options_.densities.size();
  tau_.resize(tasks * n);
  tau_keys_.resize(tasks * n);
  for (std::size_t m = 0; m < tasks; ++m) {
    std::int64_t* hi = mass_hi_.data() + m * (tops + 1);
    std::int64_t* lo = mass_lo_.data() + m * (tops + 1);
    for (std::size_t i = 0; i < n; ++i) {
      const T tau = block.models[m][i] - block.base[i];
      const std::uint64_t key = ties::key_of<T>(tau, wide_keys_);
      tau_[m * n + i] = static_cast<double>(tau);
      tau_keys_[m * n + i] = key;
      const double square = static_cast<double>(tau) * static_cast<double>(tau);
      const auto units = static_cast<std::int64_t>(std::ldexp(square, mass_shift_[m]));  // truncates
      const std::int64_t h = units >> kLowBits, l = units & kLowMask;
      hi[tops] += h;
      lo[tops] += l;
      for (std::size_t j = 0; j < tops; ++j) {
        const bool kept = key >= keys_[problem(m, q + 1 + j)];
        hi[j] += kept ? h : 0;
        lo[j] += kept ? l : 0;
      }
    }
  }
  std::int64_t* counts = conflict_counts_.data() + block.tensor * densities * kCounts;
  for (std::size_t d = 0; d < densities; ++d) {
    std::int64_t kept_entries = 0, multi = 0, conflicting = 0;
    for (std::size_t i = 0; i < n; ++i) {
      int positive = 0, negative = 0;
      for (std::size_t m = 0; m < tasks; ++m) {
        const bool kept = tau_keys_[m * n + i] >= keys_[problem(m, q + 1 + tops + d)];
        positive += kept && tau_[m * n + i] > 0.0;
        negative += kept && tau_[m * n + i] < 0.0;
      }
      kept_entries += positive + negative;
      multi += positive + negative >= 2;
      conflicting += positive > 0 && negative > 0;
    }
    counts[d * kCounts + 0] += kept_entries;
    counts[d * kCounts + 1] += multi;
    counts[d * kCounts + 2] += conflicting;
  }
}

template <class T>
void TaskVectorAnalysis::analyze_block(const Block<T>& block) {
  if (block.size() == 0) return;
  if (phase_ == Phase::select) select_block(block);
  else if (phase_ == Phase::tally) tally_block(block);
}

template <class T>
void TaskVectorAnalysis::merge_block(const Block<T>&, std::span<T>) {
  throw std::logic_error("mpimerge analyze writes no checkpoint: merge is never called");
}

double TaskVectorAnalysis::value_of(std::uint64_t key) const {
  return wide_keys_ ? bits::f64_from_magnitude_key(key) : static_cast<double>(bits::f32_from_magnitude_key(key));
}

// Thresholds are known: turn them into values, and size the tally's counters.
void TaskVectorAnalysis::finish_select() {
  const std::size_t q = options_.quantiles.size(), tops = options_.mass_tops.size();
  const std::uint64_t n = stats_.parameters;
  for (std::size_t p = 0; p < keys_.size(); ++p) {
    keys_[p] = radix_->kth_key(p);
    below_[p] = radix_->count_below(p);
  }
  mass_shift_.assign(shape_.models, 0);
  for (std::size_t m = 0; m < shape_.models; ++m) {
    TaskStats& s = stats_.tasks[m];
    s.quantiles.clear();
    for (std::size_t j = 0; j < q; ++j) s.quantiles.push_back(value_of(keys_[problem(m, j)]));
    s.max = value_of(keys_[problem(m, q)]);
    s.mass_kept.clear();
    for (std::size_t j = 0; j < tops; ++j)
      s.mass_kept.push_back(static_cast<double>(n - below_[problem(m, q + 1 + j)]) / static_cast<double>(n));
    s.thresholds.clear();
    s.kept_fraction.clear();
    for (std::size_t d = 0; d < options_.densities.size(); ++d) {
      const std::size_t p = problem(m, q + 1 + tops + d);
      s.thresholds.push_back(value_of(keys_[p]));
      s.kept_fraction.push_back(static_cast<double>(n - below_[p]) / static_cast<double>(n));
    }
    // 2^shift scales the largest tau^2 below 2^52, so every term fits its two 26-bit lanes.
    int exponent = 0;
    std::frexp(s.max * s.max, &exponent);  // max^2 < 2^exponent
    mass_shift_[m] = s.max > 0 ? kMassBits - exponent : 0;
  }
  mass_hi_.assign(shape_.models * (tops + 1), 0);
  mass_lo_.assign(mass_hi_.size(), 0);
  conflict_counts_.assign(shape_.tensors.size() * options_.densities.size() * kCounts, 0);
  phase_ = Phase::tally;
}

void TaskVectorAnalysis::finish_tally(Reductions& reductions) {
  reductions.sum(mass_hi_);
  reductions.sum(mass_lo_);
  reductions.sum(conflict_counts_);
  const std::size_t tops = options_.mass_tops.size(), densities = options_.densities.size();
  for (std::size_t m = 0; m < shape_.models; ++m) {
    auto mass = [&](std::size_t j) {
      const std::size_t i = m * (tops + 1) + j;
      return std::ldexp(std::ldexp(static_cast<double>(mass_hi_[i]), kLowBits) + static_cast<double>(mass_lo_[i]),
                        -mass_shift_[m]);
    };
    TaskStats& s = stats_.tasks[m];
    s.sum_of_squares = mass(tops);
    s.mass_fraction.clear();
    for (std::size_t j = 0; j < tops; ++j) s.mass_fraction.push_back(s.sum_of_squares > 0 ? mass(j) / s.sum_of_squares : 0.0);
  }
  for (std::size_t t = 0; t < shape_.tensors.size(); ++t)
    for (std::size_t d = 0; d < densities; ++d) {
      const std::int64_t* c = conflict_counts_.data() + (t * densities + d) * kCounts;
      SignConflicts& one = stats_.per_tensor[t][d];
      one.kept_entries = static_cast<std::uint64_t>(c[0]);
      one.multi_kept = static_cast<std::uint64_t>(c[1]);
      one.conflicting = static_cast<std::uint64_t>(c[2]);
      stats_.conflicts[d].kept_entries += one.kept_entries;
      stats_.conflicts[d].multi_kept += one.multi_kept;
      stats_.conflicts[d].conflicting += one.conflicting;
    }
  phase_ = Phase::done;
}

void TaskVectorAnalysis::finish_pass(Reductions& reductions) {
  ++stats_.passes;
  if (phase_ == Phase::select) {
    radix_->finish_pass(reductions);
    if (radix_->done()) finish_select();
  } else if (phase_ == Phase::tally) {
    finish_tally(reductions);
  }
}

template void TaskVectorAnalysis::analyze_block<float>(const Block<float>&);
template void TaskVectorAnalysis::analyze_block<double>(const Block<double>&);
template void TaskVectorAnalysis::merge_block<float>(const Block<float>&, std::span<float>);
template void TaskVectorAnalysis::merge_block<double>(const Block<double>&, std::span<double>);

}  // namespace mpimerge
