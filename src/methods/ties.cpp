#include "mpimerge/methods/ties.hpp"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/ties_kernels.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {

namespace ties {
std::uint64_t kth_smallest_rank(std::uint64_t d, double density) {
  // int(d * K) in Python truncates a double product; so does this.
  const auto kept = static_cast<std::uint64_t>(std::floor(static_cast<double>(d) * density));
  return d - std::min(kept, d);
}
}  // namespace ties

namespace {

// Sample sizes per problem. The sample costs in proportion to its size s (read, held, and ranked
// for the pivots); the window between the pivots shrinks as 1/sqrt(s), and the keys in it cost the
// counting pass (candidates held, parameters whose sign waits): the sum is least near
// s = keys^(2/3) (0.55B keys: 670k; keys / 64, 8.6M, peaked at 0.15 against 0.08 GB per rank and
// ran no faster: docs/performance.md), within bounds. The sample pass reads a row of every unit
// where that fits the memory, which takes 2-6x the plan at the defaults; read at its share exactly,
// 2-4x the plan did as well (docs/performance.md, 4 December evening).
std::uint64_t sample_target(std::uint64_t keys, std::uint64_t at_least, std::uint64_t at_most) {
  const double root = std::cbrt(static_cast<double>(keys));
  return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(root * root), at_least, at_most);
}

}  // namespace

TiesMerge::TiesMerge(const MethodArgs& args) : args_(args) {}

std::size_t TiesMerge::problem(std::size_t task, std::size_t tensor) const {
  return settings_.trim_scope == TrimScope::model ? task : tensor * shape_.models + task;
}

double TiesMerge::sample_fraction(std::size_t tensor) const {
  return sample_thinned_ ? sample_fractions_[tensor] : planned_fraction(tensor);
}

std::uint64_t TiesMerge::sample_bytes_per_element() const {
  return shape_.models * SampledSelection::key_bytes(key_bits());
}

double TiesMerge::planned_fraction(std::size_t tensor) const {
  const std::uint64_t keys = settings_.trim_scope == TrimScope::model ? total_elements_ : shape_.tensors[tensor].elements;
  if (keys == 0) return 0.0;
  const std::uint64_t target = settings_.trim_scope == TrimScope::model ? sample_target(keys, 1 << 16, 1 << 24)
                                                                        : sample_target(keys, 1 << 12, 1 << 22);
  return std::min(1.0, static_cast<double>(target) / static_cast<double>(keys));
}

// kMemoryPerProblem per selection problem: with an eighth of a small budget, per-tensor trimming
// (hundreds of problems) spent a fourth read counting signs, or fell back to radix selection (0.55B
// at --memory-budget 2M: 3 reads with 2 KiB per problem, 4 with 1 KiB; tests/cli/tensor_scope_reads.sh).
std::uint64_t TiesMerge::memory_wanted(const MergeShape& shape) const {
  const ParameterView params(args_.params, args_.spec->parameters, shape, "ties");
  const bool per_tensor = params.word("trim_scope", 0) == "tensor";
  return kMemoryPerProblem * shape.models * (per_tensor ? shape.tensors.size() : 1);
}

// The sample holds every sampled key at once: a rank's share stays within sample_memory. Where the
// plan would take more (many per-tensor problems under a small budget), each tensor keeps up to
// kLeastSampleKeys first and the rest is thinned alike: a problem sampled below a few hundred keys
// gets an open-ended pair of pivots (the margin of 5 sigmas + 16 reaches past the sample), whose
// bins span every key and narrow nothing (3M set at 128K: radix selection, 7 reads). A smaller
// sample only widens the pivots' window. The engine then reads each tensor's share (and at least
// one row); where that share is under a row per rank (many tensors under a small budget), every
// stride-th key of it is kept.
double TiesMerge::plan_sample(std::size_t first, std::size_t end, std::uint64_t sample_memory) {
  const double ranks = static_cast<double>(std::max(1, shape_.ranks));
  const double per_key = static_cast<double>(sample_bytes_per_element());
  auto least_of = [&](double keys) {
    return settings_.trim_scope == TrimScope::tensor ? std::min(keys, static_cast<double>(kLeastSampleKeys)) : 0.0;
  };
  double planned = 0, least = 0;  // sampled elements of the whole tensors, all ranks
  for (std::size_t t = first; t < end; ++t) {
    const double keys = static_cast<double>(shape_.tensors[t].elements) * planned_fraction(t);
    planned += keys;
    least += least_of(keys);
  }
  const double room = static_cast<double>(sample_memory) * ranks / per_key;  // elements
  sample_thinned_ = sample_memory != 0 && planned > room;
  sample_stride_.assign(shape_.tensors.size(), 1);
  if (!sample_thinned_) return planned;
  sample_fractions_.assign(shape_.tensors.size(), 0.0);
  for (std::size_t t = first; t < end; ++t) {
    const double elements = static_cast<double>(shape_.tensors[t].elements);
    const double keys = elements * planned_fraction(t), floor = least_of(keys);
    const double kept = least >= room ? floor * room / least : floor + (keys - floor) * (room - least) / (planned - least);
    sample_fractions_[t] = elements > 0 ? kept / elements : 0.0;
    const std::uint64_t row = std::max<std::uint64_t>(1, shape_.tensors[t].row_elements());
    const std::uint64_t rows = (shape_.tensors[t].elements / row + static_cast<std::uint64_t>(ranks) - 1) /
                               static_cast<std::uint64_t>(ranks);  // the largest share
    const double planned_rows = sample_fractions_[t] * static_cast<double>(rows);
    if (planned_rows > 0 && planned_rows < 1)
      sample_stride_[t] = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(1.0 / planned_rows), 1, row);
  }
  return room;
}

// What a tensor's problems want in a run: kMemoryPerProblem each, and more for large tensors, whose
// window after the bins-only count still holds keys in proportion to the tensor over the memory to
// the power 1.5, and whose sign tally then overflowed (0.55B at 512K: the embedding in a run of 20
// tensors, a fourth read counting signs). 4 bytes per square root of the keys gives it a run of
// its own under small budgets, and 3 reads from 128K (docs/performance.md).
std::optional<std::uint64_t> TiesMerge::tensor_analysis_memory(std::size_t tensor) const {
  if (settings_.trim_scope == TrimScope::model) return std::nullopt;
  const double keys = static_cast<double>(shape_.tensors[tensor].elements);
  return shape_.models * std::max<std::uint64_t>(kMemoryPerProblem, static_cast<std::uint64_t>(4 * std::sqrt(keys)));
}

void TiesMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, "ties");
  settings_.density = params.number("density", 0);
  settings_.lambda = params.number("lambda", 0);
  settings_.trim_scope = params.word("trim_scope", 0) == "tensor" ? TrimScope::tensor : TrimScope::model;
  const std::string merge = params.word("disjoint_merge", 0);
  settings_.disjoint_merge = merge == "sum" ? DisjointMerge::sum : merge == "max" ? DisjointMerge::max : DisjointMerge::mean;
  total_elements_ = shape.total_elements();  // once: per-tensor lookups of it made 100k tensors quadratic
  wide_keys_ = shape.any_float64();
  const std::size_t problems = settings_.trim_scope == TrimScope::model ? shape.models : shape.tensors.size() * shape.models;
  threshold_keys_.assign(problems, 0);
  kept_below_.assign(problems, 0);
  brackets_.clear();
  positive_signs_ = negative_signs_ = 0;
  undecided_count_ = 0;
  fallback_passes_ = 0;
  sign_count_passes_ = 0;
  const bool any_cut = begin_selection(0, shape.tensors.size());
  plan_sample(0, shape.tensors.size(), shape.sample_memory);
  phase_ = any_cut ? Phase::sample : Phase::count_signs;
}

// The selections are sized by the memory (begin_selection): start again with the larger one.
void TiesMerge::lend_idle_memory(std::uint64_t bytes) {
  if (bytes == shape_.idle_output_memory) return;
  MergeShape shape = shape_;
  shape.idle_output_memory = bytes;
  start(shape);
}

// A run of tensors after the sample of all of them (the engine's analysis in runs): this run's
// problems with all of the method's memory, between the pivots that sample found; or, where the
// run's own memory holds a sample more than twice that size (the sample of all, thinned to a few
// keys per problem under a small budget, left wide windows: 0.55B at 256K, 4 reads), after a
// sample of its own.
void TiesMerge::start_tensors(std::size_t first, std::size_t end) {
  if (!begin_selection(first, end)) {
    phase_ = Phase::count_signs;
    return;
  }
  double sampled = 0;  // per model: the sample of all's keys for these tensors
  for (std::size_t p = 0; p < sampled_->problems() && !brackets_.empty(); ++p)
    sampled += brackets_[first_problem_ + p].sampled / static_cast<double>(shape_.models);
  const double own = plan_sample(first, end, shape_.run_sample_memory());  // what a sample here would take
  if (brackets_.empty() || own > 2 * sampled) {
    phase_ = Phase::sample;
    return;
  }
  sampled_->take_brackets(std::span<const SampledSelection::Bracket>(brackets_).subspan(first_problem_, sampled_->problems()));
  if (sampled_->binning_only()) signs_.reset();
  phase_ = Phase::count;
}

bool TiesMerge::begin_selection(std::size_t first, std::size_t end) {
  const MergeShape& shape = shape_;
  first_problem_ = settings_.trim_scope == TrimScope::model ? 0 : first * shape.models;
  std::vector<std::uint64_t> k, n;
  if (settings_.trim_scope == TrimScope::model) {
    n.assign(shape.models, shape.total_elements());
    k.assign(shape.models, ties::kth_smallest_rank(shape.total_elements(), settings_.density));
  } else {
    for (std::size_t t = first; t < end; ++t)
      for (std::size_t m = 0; m < shape.models; ++m) {
        n.push_back(shape.tensors[t].elements);
        k.push_back(ties::kth_smallest_rank(shape.tensors[t].elements, settings_.density));
      }
  }
  // Half of the method's memory for candidate keys, half for parameters whose sign waits (all for
  // the bins of a first count that only bins). When either runs out the method stays exact and
  // spends passes instead (radix, sign count).
  const std::uint64_t memory = shape.analysis_memory() != 0 ? shape.analysis_memory() : std::uint64_t{64} << 20;
  sign_memory_ = memory / 2;
  signs_.emplace(sign_memory_);
  radix_.reset();
  narrowings_ = 0;
  const bool any_cut = std::any_of(k.begin(), k.end(), [](std::uint64_t x) { return x != 0; });
  // A first count that only bins (the candidates would not fit) is followed by a refined one
  // that tallies the signs afresh: it takes all the memory, and no signs are tallied in it.
  sampled_.emplace(std::move(k), std::move(n), key_bits(), memory / 2 / SampledSelection::key_bytes(key_bits()), memory);
  return any_cut;
}

template <class T>
MPIMERGE_VECTOR_CLONES void TiesMerge::sample_block(const Block<T>& block) {
  auto keys = scratch_.key_buffer(block.size());
  const std::uint64_t stride = sample_stride_[block.tensor];
  const std::size_t first = static_cast<std::size_t>((stride - block.first_element % stride) % stride);
  for (std::size_t t = 0; t < block.models.size(); ++t) {
    ties::task_vector_keys<T>(block.models[t], block.base, wide_keys_, keys);
    std::size_t kept = keys.size();
    if (stride > 1) {  // every stride-th key of the tensor
      kept = 0;
      for (std::size_t i = first; i < keys.size(); i += stride) keys[kept++] = keys[i];
    }
    sampled_->add_sample(run_problem(t, block.tensor), std::span<const std::uint64_t>(keys.data(), kept));
  }
}

// Classifies every entry against its problem's pivots (SampledSelection counts) and tallies the
// elected signs (SignTally): with the provisional trim, in which every undecided entry is cut, a
// parameter without undecided entries already has its final sign. One sweep per task computes the
// task vector, classifies it, and adds it to the two sums that give each parameter's signs with its
// undecided entries cut and kept; the trimmed entries and keys are not stored, and no second sweep
// sums them (bf16 inputs in bench/ties_kernels_bench: 1.24 ns per model entry before, 0.88 after).
// The keys strictly between the pivots (the candidates) are all undecided entries, so
// tally_undecided, which visits those anyway, collects them: no pass over every key looks for them.
template <class T>
MPIMERGE_VECTOR_CLONES void TiesMerge::count_block(const Block<T>& block) {
  const std::size_t n = block.size(), tasks = block.models.size();
  auto tau = scratch_.of<T>().arrays(tasks, n);
  auto sums = scratch_.of<T>().extra(2 * n);
  const auto if_cut = sums.first(n), if_kept = sums.subspan(n);  // if_cut: then its signs
  undecided_.resize(n);
  pivots_.assign(tasks, {0, 0});  // no cut: every key is at or above 0, every entry kept and decided
  for (std::size_t t = 0; t < tasks; ++t) {
    const std::size_t p = run_problem(t, block.tensor);
    const bool cut = sampled_->needs_selection(p);
    if (cut) pivots_[t] = {sampled_->low_pivot(p), sampled_->high_pivot(p)};
    const auto [low, high] = pivots_[t];
    ties::PivotCounts counts;
    const auto task = static_cast<std::uint32_t>(t);
    if (sizeof(T) == 4 && !wide_keys_)
      ties::classify_task_vector<T, std::uint32_t>(block.models[t], block.base, low, high, wide_keys_, task, t == 0,
                                                   tau[t], if_cut, if_kept, undecided_, {}, counts);
    else
      ties::classify_task_vector<T, std::uint64_t>(block.models[t], block.base, low, high, wide_keys_, task, t == 0,
                                                   tau[t], if_cut, if_kept, undecided_, scratch_.key_buffer(n), counts);
    if (cut) sampled_->add_counts(p, {counts.below, counts.at_low, counts.at_high, counts.between});
  }
  std::int64_t positive = 0, negative = 0;
  const std::uint64_t undecided = ties::sign_provisional_sums<T>(if_cut, undecided_, positive, negative);
  if (signs_) signs_->add_decided(positive, negative);
  if (undecided == 0) return;
  tally_undecided<T>(block, tau, if_cut, if_kept);
}

// The parameters of a block with undecided entries: one undecided entry is tallied by its key
// with the signs it gives kept and cut; several keep the parameter whole. Each undecided entry
// strictly between its pivots is a candidate. They are a few percent of a block (bf16 models: many
// entries tie at a pivot), but each was the counting pass's costliest: runs of 64 without one are
// passed over by a branch-free test, within a run the undecided ones are visited by their bits,
// and neither the signs (classify_task_vector summed them) nor the candidates (written always,
// counted when between) ask a data-dependent branch (perf, 0.55B bf16 merge: the sum's branch on
// the undecided task and the candidates' test were mispredicted often).
template <class T>
MPIMERGE_VECTOR_CLONES void TiesMerge::tally_undecided(const Block<T>& block, std::span<const std::span<T>> tau,
                                                       std::span<const T> signs_if_cut, std::span<const T> sums_if_kept) {
  const std::size_t n = block.size(), tasks = tau.size();
  const std::uint32_t* __restrict marks = undecided_.data();
  candidate_keys_.resize(tasks * n);
  candidate_counts_.assign(tasks, 0);
  std::uint64_t* __restrict keys = candidate_keys_.data();
  std::size_t* __restrict held = candidate_counts_.data();
  auto candidate = [&](std::size_t t, std::uint64_t key) {
    keys[t * n + held[t]] = key;
    held[t] += (key > pivots_[t].first) & (key < pivots_[t].second);
  };
  std::vector<T> entries(tasks);
  SignTally* const signs = signs_ ? &*signs_ : nullptr;  // none in a round that only bins
  constexpr std::size_t kRun = 64;
  for (std::size_t at = 0; at < n; at += kRun) {
    const std::size_t end = std::min(n, at + kRun);
    std::uint64_t run = 0;
    if (end - at == kRun) {
      for (std::size_t j = 0; j < kRun; ++j) run |= std::uint64_t{marks[at + j] != ties::kNoneUndecided} << j;  // vectorises
    } else {
      for (std::size_t i = at; i < end; ++i) run |= std::uint64_t{marks[i] != ties::kNoneUndecided} << (i - at);
    }
    for (; run != 0; run &= run - 1) {
      const std::size_t i = at + static_cast<std::size_t>(std::countr_zero(run));
      if (marks[i] != ties::kSeveralUndecided) {
        const std::size_t which = marks[i] - 1;
        const std::uint64_t key = ties::key_of<T>(tau[which][i], wide_keys_);
        candidate(which, key);
        const T sum = sums_if_kept[i];
        if (signs) signs->add_single(problem(which, block.tensor), key, (sum > T(0)) - (sum < T(0)), static_cast<int>(signs_if_cut[i]));
      } else {
        for (std::size_t t = 0; t < tasks; ++t) {
          entries[t] = tau[t][i];
          candidate(t, ties::key_of<T>(entries[t], wide_keys_));
        }
        if (signs) signs->add_multiple(static_cast<std::uint32_t>(block.tensor), std::span<const T>(entries));
      }
    }
  }
  for (std::size_t t = 0; t < tasks; ++t)
    if (held[t] != 0)
      sampled_->add_candidates(run_problem(t, block.tensor), std::span<const std::uint64_t>(keys + t * n, held[t]));
}

template <class T>
void TiesMerge::radix_block(const Block<T>& block) {
  auto keys = scratch_.key_buffer(block.size());
  for (std::size_t t = 0; t < block.models.size(); ++t) {
    const std::size_t p = run_problem(t, block.tensor);
    if (!radix_->active(p)) continue;
    ties::task_vector_keys<T>(block.models[t], block.base, wide_keys_, keys);
    radix_->count(p, keys);
  }
}

template <class T>
std::span<const std::span<T>> TiesMerge::trimmed_task_vectors(const Block<T>& block, std::span<T> sums,
                                                              std::uint64_t* kept) {
  auto tau = scratch_.of<T>().arrays(block.models.size(), block.size());
  std::uint64_t entries = 0;
  for (std::size_t t = 0; t < tau.size(); ++t)
    entries += ties::trimmed_task_vector<T>(block.models[t], block.base, threshold_keys_[problem(t, block.tensor)],
                                            wide_keys_, tau[t], sums, t == 0);
  if (kept) *kept = entries;
  return tau;
}

template <class T>
MPIMERGE_VECTOR_CLONES void TiesMerge::count_signs_block(const Block<T>& block) {
  auto sums = scratch_.of<T>().extra(block.size());
  trimmed_task_vectors(block, sums);
  std::int64_t positive = 0, negative = 0;
  for (T sum : sums) {
    positive += sum > T(0);
    negative += sum < T(0);
  }
  run_positive_ += positive;
  run_negative_ += negative;
}

template <class T>
void TiesMerge::analyze_block(const Block<T>& block) {
  switch (phase_) {
    case Phase::sample: sample_block(block); break;
    case Phase::count: count_block(block); break;
    case Phase::radix: radix_block(block); break;
    case Phase::count_signs: count_signs_block(block); break;
    case Phase::merge: break;
  }
}

// The sign a kept-aside parameter elects, with the same arithmetic as trimmed_task_vector's sums.
template <class T>
int TiesMerge::elected_sign(std::span<const T> tau, std::size_t tensor) const {
  T sum = T(0);
  for (std::size_t t = 0; t < tau.size(); ++t)
    sum += ties::key_of<T>(tau[t], wide_keys_) < threshold_keys_[problem(t, tensor)] ? T(0) : tau[t];
  return sum > T(0) ? 1 : (sum < T(0) ? -1 : 0);
}


void TiesMerge::finish_count(Reductions& reductions) {
  sampled_->finish_count(reductions);
  bool any_failed = false;
  for (std::size_t p = 0; p < sampled_->problems(); ++p) any_failed |= sampled_->needs_selection(p) && sampled_->failed(p);
  // Candidates that outgrew the memory (hundreds of per-tensor problems under a small budget): one
  // more counting pass between much narrower pivots, for every problem (the solved ones classify
  // exactly against their answer), with the signs counted afresh; 3 reads in all, not the radix
  // fallback's 2-4 passes and a pass for the signs. Where that pass overflows too (a budget of a
  // few rows against millions of keys), it bins, and the counting goes on between narrower pivots
  // again while that is foreseen to cost no more passes than the fallback would.
  if (any_failed && narrowing_pays() && sampled_->refine()) {
    ++narrowings_;
    ++fallback_passes_;
    signs_.emplace(sign_memory_);
    return;  // phase_ stays Phase::count
  }
  std::vector<std::uint64_t> missed(sampled_->problems(), 0);
  bool any_missed = false;
  for (std::size_t p = 0; p < sampled_->problems(); ++p) {
    if (!sampled_->needs_selection(p)) continue;
    if (sampled_->failed(p)) {
      missed[p] = ties::kth_smallest_rank(settings_.trim_scope == TrimScope::model
                                              ? total_elements_
                                              : shape_.tensors[(first_problem_ + p) / shape_.models].elements,
                                          settings_.density);
      any_missed = true;
    } else {
      threshold_keys_[first_problem_ + p] = sampled_->kth_key(p);
      kept_below_[first_problem_ + p] = sampled_->count_below(p);
    }
  }
  if (any_missed) {  // the sample misled: find those thresholds the slow way, then count signs
    radix_.emplace(std::move(missed), key_bits());
    signs_.reset();
    phase_ = Phase::radix;
    return;
  }
  if (!signs_) {  // the round only binned, and answered every problem: count the signs in a pass
    phase_ = Phase::count_signs;
    return;
  }
  signs_->resolve(threshold_keys_, shape_.models,
                  [&](std::uint32_t tensor, std::span<const float> tau) { return elected_sign<float>(tau, tensor); },
                  [&](std::uint32_t tensor, std::span<const double> tau) { return elected_sign<double>(tau, tensor); });
  std::int64_t totals[4] = {signs_->positive(), signs_->negative(), signs_->overflowed() ? 1 : 0,
                            static_cast<std::int64_t>(signs_->undecided())};
  signs_.reset();
  reductions.sum(totals);
  undecided_count_ += static_cast<std::uint64_t>(totals[3]);
  if (totals[2] != 0) {  // some rank could not tally every undecided parameter: count in a pass
    phase_ = Phase::count_signs;
    return;
  }
  finish_signs(totals[0], totals[1]);
}

bool TiesMerge::narrowing_pays() const {
  if (narrowings_ == 0) return true;
  std::size_t failed = 0;
  for (std::size_t p = 0; p < sampled_->problems(); ++p) failed += sampled_->needs_selection(p) && sampled_->failed(p);
  const int fallback = RadixSelection::most_passes(failed, key_bits()) + 1;  // then a pass counting the signs
  return narrowings_ <= fallback && sampled_->rounds_to_answer() <= fallback;
}

// The elected signs of a run's parameters, summed over the ranks: the zero-sum fallback takes the
// majority over every parameter, so it is final after the last run.
void TiesMerge::finish_signs(std::int64_t positive, std::int64_t negative) {
  positive_signs_ += positive;
  negative_signs_ += negative;
  majority_sign_ = positive_signs_ > negative_signs_ ? 1 : (positive_signs_ < negative_signs_ ? -1 : 0);
  phase_ = Phase::merge;
}

void TiesMerge::take_thresholds_from_radix() {
  for (std::size_t p = 0; p < radix_->problems(); ++p) {
    if (!sampled_->failed(p)) continue;
    threshold_keys_[first_problem_ + p] = radix_->kth_key(p);
    kept_below_[first_problem_ + p] = radix_->count_below(p);
  }
}

void TiesMerge::finish_pass(Reductions& reductions) {
  switch (phase_) {
    case Phase::sample:
      sampled_->finish_sample(reductions);
      if (settings_.trim_scope == TrimScope::tensor) {  // for runs of tensors; a run's own sample, in its place
        const std::vector<SampledSelection::Bracket> found = sampled_->brackets();
        brackets_.resize(threshold_keys_.size());
        std::copy(found.begin(), found.end(), brackets_.begin() + static_cast<std::ptrdiff_t>(first_problem_));
      }
      if (sampled_->binning_only()) signs_.reset();
      phase_ = Phase::count;
      return;
    case Phase::count:
      finish_count(reductions);
      return;
    case Phase::radix:
      ++fallback_passes_;
      radix_->finish_pass(reductions);
      if (!radix_->done()) return;
      take_thresholds_from_radix();
      phase_ = Phase::count_signs;
      return;
    case Phase::count_signs: {
      ++sign_count_passes_;
      std::int64_t counts[2] = {run_positive_, run_negative_};
      reductions.sum(counts);
      run_positive_ = run_negative_ = 0;
      finish_signs(counts[0], counts[1]);
      return;
    }
    case Phase::merge: return;
  }
}

template <class T>
MPIMERGE_VECTOR_CLONES void TiesMerge::merge_block(const Block<T>& block, std::span<T> out) {
  std::uint64_t kept = 0;
  auto gamma = scratch_.of<T>().extra(3 * block.size());
  auto trimmed = trimmed_task_vectors(block, gamma.first(block.size()), &kept);
  ties::elected_signs<T>(gamma.first(block.size()), majority_sign_);
  const std::uint64_t agreed = ties::disjoint_merge<T>(trimmed, gamma.first(block.size()), settings_.disjoint_merge, out,
                                                       gamma.subspan(block.size()));
  ties::add_scaled_to_base<T>(block.base, static_cast<T>(settings_.lambda), out);
  kept_entries_ += static_cast<std::int64_t>(kept);
  lost_entries_ += static_cast<std::int64_t>(kept - agreed);  // kept, but against the elected sign
}

void TiesMerge::finish_merge(Reductions& reductions) {
  std::int64_t counts[2] = {kept_entries_, lost_entries_};
  reductions.sum(counts);
  kept_entries_ = counts[0];
  lost_entries_ = counts[1];
}

// After the analysis passes everything the merge needs is global and small: the thresholds, the
// counts below them, and the signs' tally.
std::optional<std::string> TiesMerge::saved_state() const {
  if (phase_ != Phase::merge) return std::nullopt;
  return nlohmann::json{{"thresholds", threshold_keys_}, {"kept_below", kept_below_}, {"positive", positive_signs_},
                        {"negative", negative_signs_}, {"majority", majority_sign_}, {"fallback_passes", fallback_passes_},
                        {"sign_count_passes", sign_count_passes_},
                        {"undecided", undecided_count_}, {"wide_keys", wide_keys_}}
      .dump();
}

bool TiesMerge::restore_state(const std::string& state) {
  try {
    const auto j = nlohmann::json::parse(state);
    auto thresholds = j.at("thresholds").get<std::vector<std::uint64_t>>();
    if (thresholds.size() != threshold_keys_.size() || j.at("wide_keys").get<bool>() != wide_keys_) return false;
    threshold_keys_ = std::move(thresholds);
    kept_below_ = j.at("kept_below").get<std::vector<std::uint64_t>>();
    positive_signs_ = j.at("positive").get<std::int64_t>();
    negative_signs_ = j.at("negative").get<std::int64_t>();
    majority_sign_ = j.at("majority").get<int>();
    fallback_passes_ = j.at("fallback_passes").get<int>();
    sign_count_passes_ = j.value("sign_count_passes", 0);  // absent from the journals of older builds
    undecided_count_ = j.at("undecided").get<std::uint64_t>();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  phase_ = Phase::merge;
  return true;
}

std::vector<MethodFinding> TiesMerge::findings() const {
  std::vector<MethodFinding> out;
  const std::size_t n = shape_.models;
  std::vector<std::uint64_t> kept(n, 0), total(n, 0);
  for (std::size_t p = 0; p < threshold_keys_.size(); ++p) {
    const std::size_t task = p % n;
    const std::uint64_t elements = settings_.trim_scope == TrimScope::model ? total_elements_ : shape_.tensors[p / n].elements;
    total[task] += elements;
    kept[task] += elements - kept_below_[p];
  }
  for (std::size_t t = 0; t < n; ++t) {
    const std::string task = "task " + std::to_string(t);
    if (settings_.trim_scope == TrimScope::model) {
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
  out.push_back({"selection fallback passes", static_cast<double>(fallback_passes_)});
  // Passes that only counted signs: after the radix fallback, after a count that only binned, or
  // where the sign tally of the thresholds' last count outgrew its memory (the smallest budgets).
  out.push_back({"sign count passes", static_cast<double>(sign_count_passes_)});
  // The paper's "sign conflict": kept entries that disagree with their parameter's elected sign
  // and so do not enter the merge.
  out.push_back({"kept entries whose sign lost the election",
                 kept_entries_ ? static_cast<double>(lost_entries_) / static_cast<double>(kept_entries_) : 0.0});
  out.push_back({"parameters whose sign waited for the thresholds", static_cast<double>(undecided_count_)});
  return out;
}

template void TiesMerge::analyze_block<float>(const Block<float>&);
template void TiesMerge::analyze_block<double>(const Block<double>&);
template void TiesMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void TiesMerge::merge_block<double>(const Block<double>&, std::span<double>);

// The paper's TIES: its parameters are one value each for the whole merge (its code has no
// per-model or per-tensor settings) and it takes no model weights.
extern const MethodSpec kPaperTiesSpec{
    .name = "ties",
    .summary = "TIES-Merging as the paper's code (trim over the whole model by default); in a job file without "
               "trim_scope, mergekit's (ties_mergekit)",
    .parameters =
        {
            {.name = "density",
             .scope = ParameterScope::merge,
             .default_value = ParameterScalar::of_number(0.2),
             .help = "share of each task vector kept by the trim",
             .range = {.min = 0, .max = 1, .min_open = true, .percent = true},
             .sweepable = true,
             .examples = {"0.1", "0.5"},
             .tag = "d"},
            {.name = "lambda",
             .scope = ParameterScope::merge,
             .default_value = ParameterScalar::of_number(1.0),
             .help = "scale of the merged task vector",
             .sweepable = true,
             .examples = {"0.5", "1.5"},
             .tag = "l"},
            {.name = "trim_scope",
             .scope = ParameterScope::merge,
             .type = ParameterType::choice,
             .default_value = ParameterScalar::of_text("model"),
             .help = "rank magnitudes over the whole model (model, the paper) or within each tensor (tensor)",
             .choices = {"model", "tensor"},
             .sweepable = true,
             .examples = {"model", "tensor"},
             .tag = ""},
            {.name = "disjoint_merge",
             .scope = ParameterScope::merge,
             .type = ParameterType::choice,
             .default_value = ParameterScalar::of_text("mean"),
             .help = "combine the entries that agree with the elected sign by their mean, sum or max",
             .choices = {"mean", "sum", "max"},
             .sweepable = true,
             .examples = {"mean", "sum", "max"},
             .tag = ""},
        },
    .make = make_method_of<TiesMerge>,
    .mergekit_variant = "ties_mergekit",
    .own_key = "trim_scope",
};

}  // namespace mpimerge
