#include "mpimerge/methods/task_vector_merge.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/ties_kernels.hpp"
#include "mpimerge/util/format.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {
namespace {

constexpr double kNormEpsilon = 1e-7;     // mergekit's rescaled_masked_tensor: no rescale below
constexpr double kDivisorEpsilon = 1e-8;  // mergekit's GTATask: |sum of weights| below is "zero"

std::vector<ParameterDef> parameters_of(const TaskVectorRecipe& r) {
  const bool random = r.sparsification == Sparsification::random || r.sparsification == Sparsification::della;
  const bool sparse = r.sparsification != Sparsification::none;
  std::vector<ParameterDef> defs{
      {.name = "weight",
       .scope = ParameterScope::per_model,
       .default_value = ParameterScalar::of_number(1.0),
       .help = "weight of the model's task vector (negative: subtract it); job files must give it, as in mergekit",
       .required_in_job_files = true},
      {.name = "density",
       .scope = ParameterScope::per_model,
       .default_value = ParameterScalar::of_number(1.0),
       .help = sparse ? "share of the task vector kept (1: no sparsification)"
                      : "accepted for mergekit job files; task arithmetic keeps every entry",
       .range = {.min = 0, .max = 1, .min_open = true, .percent = true},
       .sweepable = sparse,
       .examples = sparse ? std::vector<std::string_view>{"0.7", "0.3"} : std::vector<std::string_view>{},
       .tag = "d",
       .inert = !sparse},
      {.name = "normalize",
       .type = ParameterType::boolean,
       .default_value = ParameterScalar::of_boolean(r.default_normalize),
       .help = "divide by the sum of the weights (of the agreeing entries, after a sign election)",
       .sweepable = true,
       .examples = {"true", "false"}},
      {.name = "lambda",
       .default_value = ParameterScalar::of_number(1.0),
       .help = "scale of the merged task vector",
       .sweepable = true,
       .examples = {"0.5", "1.5"},
       .tag = "l"},
      {.name = "rescale",
       .type = ParameterType::flag_or_choice,
       .default_value = ParameterScalar::of_boolean(r.default_rescale),
       .help = random ? "after the random drop: true divides kept entries by their keep probability, l1 matches the "
                        "task vector's L1 norm (mergekit today), false does neither"
                      : "after trimming: true or l1 rescales the kept entries to the task vector's L1 norm, false "
                        "does not",
       .choices = {"l1"},
       .sweepable = sparse,
       .examples = !sparse ? std::vector<std::string_view>{}
                   : random ? std::vector<std::string_view>{"true", "false", "l1"}
                            : std::vector<std::string_view>{"false", "l1"},
       .inert = !sparse},
      {.name = "int8_mask",
       .type = ParameterType::boolean,
       .default_value = ParameterScalar::of_boolean(false),
       .help = "accepted for mergekit job files; no effect here (a memory saving in mergekit)",
       .inert = true},
  };
  if (r.sparsification == Sparsification::magnitude_outliers)
    defs.push_back({.name = "gamma",
                    .scope = ParameterScope::per_model,
                    .default_value = ParameterScalar::of_number(0.01),
                    .help = "share of the largest magnitudes dropped as outliers",
                    .range = {.min = 0, .max = 1},
                    .sweepable = true,
                    .examples = {"0.01", "0.1"}});
  if (r.sparsification == Sparsification::della)
    defs.push_back({.name = "epsilon",
                    .scope = ParameterScope::per_model,
                    .default_value = ParameterScalar::of_number(0.15),
                    .help = "keep probabilities range over density +- epsilon by magnitude rank",
                    .range = {.min = 0, .max = 1, .max_open = true},
                    .sweepable = true,
                    .examples = {"0.05", "0.1"}});
  if (random)
    defs.push_back({.name = "seed",
                    .type = ParameterType::integer,
                    .default_value = ParameterScalar::of_number(0.0, "0"),
                    .help = "seed of the random drop: the same seed gives the same merge at any rank count",
                    .sweepable = true,
                    .examples = {"1", "2"}});
  if (r.elects_sign)
    defs.push_back({.name = "consensus",
                    .type = ParameterType::choice,
                    .default_value = ParameterScalar::of_text("sum"),
                    .help = "elect the sign from the sum of the weighted task vectors (sum) or from a count of their "
                            "signs (count)",
                    .choices = {"sum", "count"},
                    .sweepable = true,
                    .examples = {"sum", "count"}});
  return defs;
}

// DELLA: each keep probability density +- epsilon must be a probability (in (0, 1)).
void check_della(const ParameterView& params) {
  for (std::size_t t = 0; t < params.shape().tensors.size(); ++t)
    for (std::size_t m = 0; m < params.shape().models; ++m) {
      const double density = params.number("density", t, m), epsilon = params.number("epsilon", t, m);
      if (density < 1.0 && !(density - epsilon > 0.0 && density + epsilon < 1.0))
        throw UsageError(params.describe("epsilon", t, m) + " is " + format_number(epsilon) +
                         ": density +- epsilon must lie in (0, 1) (density " + format_number(density) + ")");
    }
}

}  // namespace

MethodSpec task_vector_spec(const TaskVectorRecipe& recipe, std::string_view summary,
                            std::unique_ptr<MergeMethod> (*make)(const MethodArgs&)) {
  return MethodSpec{.name = recipe.name,
                    .summary = summary,
                    .parameters = parameters_of(recipe),
                    .check = recipe.sparsification == Sparsification::della ? check_della : nullptr,
                    .make = make};
}

TaskVectorMerge::TaskVectorMerge(const TaskVectorRecipe& recipe, const MethodArgs& args) : recipe_(recipe), args_(args) {}

void TaskVectorMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const std::string method(recipe_.name);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, method);
  const Sparsification how = recipe_.sparsification;
  const bool random = how == Sparsification::random || how == Sparsification::della;
  const std::size_t models = shape.models;
  settings_.assign(shape.tensors.size(), {});
  sparse_.assign(shape.tensors.size() * models, {});
  cut_of_problem_.clear();
  problem_position_.clear();
  std::vector<std::uint64_t> ranks;
  std::size_t gather_size = 0;
  wide_keys_ = shape.any_float64();

  for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
    const MergedTensor& info = shape.tensors[t];
    TensorSettings& s = settings_[t];
    s.lambda = params.number("lambda", t);
    s.normalize = params.flag("normalize", t);
    const std::string rescale = params.word("rescale", t);
    if (how == Sparsification::none || rescale == "false") s.rescale = Rescale::none;
    else if (rescale == "l1" || !random) s.rescale = Rescale::l1;
    else s.rescale = Rescale::by_probability;
    if (recipe_.elects_sign && params.word("consensus", t) == "count") s.election = consensus::Election::count;
    if (random) s.seed = params.integer("seed", t);
    float divisor32 = 0;
    double divisor64 = 0;
    for (std::size_t m = 0; m < models; ++m) {
      const double w = params.number("weight", t, m);
      s.weights.push_back(w);
      divisor32 += static_cast<float>(w);
      divisor64 += w;
      if (how == Sparsification::none) continue;
      Sparse& sp = sparse(t, m);
      // Ranges and DELLA's density +- epsilon are checked by the declaration (parameters_of, check_della).
      const double density = params.number("density", t, m);
      sp.density = density;
      if (how == Sparsification::magnitude_outliers) {
        sp.band = sparsify::outlier_band(info.elements, density, params.number("gamma", t, m));
      } else {
        sp.band = sparsify::magnitude_band(info.elements, density);
      }
      if (density >= 1.0) continue;  // mergekit and PEFT: no sparsification at density 1
      sp.active = true;
      if (how == Sparsification::della) {
        sp.epsilon = params.number("epsilon", t, m);
        if (info.shape.size() <= 1) {
          sp.gather_offset = gather_size;
          gather_size += info.elements;
        }
      }
      if (how == Sparsification::magnitude || how == Sparsification::magnitude_outliers) {
        for (auto [cut, p, problem] : {std::tuple{&sp.lo, sp.band.lo, &sp.lo_problem},
                                       std::tuple{&sp.hi, sp.band.hi, &sp.hi_problem}}) {
          cut->kind = sparsify::cut_kind(p, info.elements);
          if (cut->kind != sparsify::Cut::Kind::threshold) continue;
          *problem = ranks.size();
          ranks.push_back(sparsify::ascending_rank(p, info.elements));
          cut_of_problem_.push_back(cut);
          problem_position_.push_back({t, p});
        }
      }
    }
    s.divisor = info.compute == ComputeType::f64 ? divisor64 : static_cast<double>(divisor32);
    if (s.normalize && !recipe_.elects_sign && std::fabs(s.divisor) < kDivisorEpsilon)
      throw UsageError(method + ": the weights of tensor '" + info.name +
                       "' sum to 0, so they cannot be normalised (set normalize: false, or change the weights)");
  }
  selection_.reset();
  if (!ranks.empty()) selection_.emplace(std::move(ranks), wide_keys_ ? 63u : 31u);
  gathered_.assign(gather_size, 0);
  next_element_.assign(shape.tensors.size(), 0);
  phase_ = has_work(Phase::select) ? Phase::select : following(Phase::select);
}

bool TaskVectorMerge::has_work(Phase phase) const {
  switch (phase) {
    case Phase::select: return selection_ && !selection_->done();
    case Phase::tie_counts:
      for (const auto& sp : sparse_)
        if (sp.lo.needs_tie_break() || sp.hi.needs_tie_break()) return true;
      return false;
    case Phase::gather_ranks: return !gathered_.empty();
    case Phase::l1_norms:
      for (std::size_t t = 0; t < settings_.size(); ++t)
        for (std::size_t m = 0; m < shape_.models; ++m)
          if (settings_[t].rescale == Rescale::l1 && sparse_[t * shape_.models + m].active) return true;
      return false;
    case Phase::merge: return true;
  }
  return true;
}

TaskVectorMerge::Phase TaskVectorMerge::following(Phase phase) const {
  for (int p = static_cast<int>(phase) + 1; p < static_cast<int>(Phase::merge); ++p)
    if (has_work(static_cast<Phase>(p))) return static_cast<Phase>(p);
  return Phase::merge;
}

bool TaskVectorMerge::whole_rows(std::size_t tensor) const {
  // DELLA ranks magnitudes within rows: a matrix's blocks hold whole rows.
  return recipe_.sparsification == Sparsification::della && shape_.tensors[tensor].shape.size() >= 2;
}

void TaskVectorMerge::finish_pass(Reductions& reductions) {
  switch (phase_) {
    case Phase::select:
      selection_->finish_pass(reductions);
      if (!selection_->done()) break;
      for (std::size_t p = 0; p < cut_of_problem_.size(); ++p) {
        const auto [tensor, position] = problem_position_[p];
        sparsify::settle_cut(*cut_of_problem_[p], position, shape_.tensors[tensor].elements, selection_->kth_key(p),
                             selection_->count_below(p), selection_->count_equal(p));
      }
      phase_ = following(phase_);
      break;
    case Phase::tie_counts: {
      std::vector<sparsify::Cut*> cuts;
      for (auto& sp : sparse_)
        for (auto* cut : {&sp.lo, &sp.hi})
          if (cut->needs_tie_break()) cuts.push_back(cut);
      std::vector<std::int64_t> tied(cuts.size());
      for (std::size_t i = 0; i < cuts.size(); ++i) tied[i] = cuts[i]->tied_seen;
      reductions.exclusive_prefix_sum(tied);
      for (std::size_t i = 0; i < cuts.size(); ++i) cuts[i]->tied_before = tied[i];
      phase_ = following(phase_);
      break;
    }
    case Phase::gather_ranks: {
      reductions.sum(gathered_);
      std::vector<std::uint64_t> keys;
      std::vector<std::uint32_t> order;
      for (std::size_t t = 0; t < shape_.tensors.size(); ++t)
        for (std::size_t m = 0; m < shape_.models; ++m) {
          Sparse& sp = sparse(t, m);
          if (!sp.gather_offset) continue;
          const std::uint64_t n = shape_.tensors[t].elements;
          keys.assign(gathered_.begin() + static_cast<std::ptrdiff_t>(*sp.gather_offset),
                      gathered_.begin() + static_cast<std::ptrdiff_t>(*sp.gather_offset + n));
          order.resize(n);
          sp.rank_norm.resize(n);
          sparsify::normalized_ranks(keys, order, sp.rank_norm);
        }
      gathered_.clear();
      gathered_.shrink_to_fit();
      phase_ = following(phase_);
      break;
    }
    case Phase::l1_norms: {
      std::vector<ExactSum> sums;
      std::vector<Sparse*> owners;
      for (std::size_t t = 0; t < shape_.tensors.size(); ++t)
        for (std::size_t m = 0; m < shape_.models; ++m) {
          Sparse& sp = sparse(t, m);
          if (settings_[t].rescale != Rescale::l1 || !sp.active) continue;
          owners.push_back(&sp);
          sums.push_back(sp.l1_before);
          sums.push_back(sp.l1_after);
        }
      reduce_exact_sums(reductions, sums);
      for (std::size_t i = 0; i < owners.size(); ++i) {
        const double before = sums[2 * i].value(), after = sums[2 * i + 1].value();
        owners[i]->l1_applies = before >= kNormEpsilon && after >= kNormEpsilon;
        owners[i]->l1_factor = owners[i]->l1_applies ? before / after : 1.0;
      }
      phase_ = following(phase_);
      break;
    }
    case Phase::merge: break;
  }
  for (auto& sp : sparse_) sp.lo.tied_seen = sp.hi.tied_seen = 0;
  std::fill(next_element_.begin(), next_element_.end(), 0);
}

template <class T>
void TaskVectorMerge::check_order(const Block<T>& block) {
  auto& next = next_element_[block.tensor];
  if (block.first_element < next)
    throw Error(std::string(recipe_.name) + ": the blocks of tensor '" + shape_.tensors[block.tensor].name +
                "' came out of element order");
  next = block.first_element + block.size();
}

template <class T>
void TaskVectorMerge::della_probabilities(const Block<T>& block, std::size_t model, std::span<const T> tau,
                                          std::span<double> p) {
  const Sparse& sp = sparse(block.tensor, model);
  const MergedTensor& info = shape_.tensors[block.tensor];
  if (sp.gather_offset) {
    for (std::size_t i = 0; i < p.size(); ++i)
      p[i] = sparsify::della_probability(sp.density, sp.epsilon, sp.rank_norm[block.first_element + i]);
    return;
  }
  // A group is the entries along dimension 1 at fixed other indices (mergekit ranks with
  // argsort(dim=1)); every group lies in one row, and blocks hold whole rows.
  const std::uint64_t row = info.row_elements(), cols = info.shape[1], inner = row / std::max<std::uint64_t>(cols, 1);
  if (block.first_element % row != 0 || p.size() % row != 0)
    throw Error(std::string(recipe_.name) + ": a block of '" + info.name + "' does not hold whole rows");
  group_keys_.resize(cols);
  group_order_.resize(cols);
  group_ranks_.resize(cols);
  for (std::size_t r = 0; r < p.size(); r += row)
    for (std::size_t k = 0; k < inner; ++k) {
      for (std::size_t j = 0; j < cols; ++j) group_keys_[j] = bits::magnitude_key(tau[r + j * inner + k]);
      sparsify::normalized_ranks(group_keys_, group_order_, group_ranks_);
      for (std::size_t j = 0; j < cols; ++j)
        p[r + j * inner + k] = sparsify::della_probability(sp.density, sp.epsilon, group_ranks_[j]);
    }
}

template <class T>
MPIMERGE_VECTOR_CLONES void TaskVectorMerge::sparsified_task_vector(const Block<T>& block, std::size_t model, bool with_l1, std::span<T> tau) {
  const std::span<const T> theta = block.models[model];
  for (std::size_t i = 0; i < tau.size(); ++i) tau[i] = theta[i] - block.base[i];
  Sparse& sp = sparse(block.tensor, model);
  if (!sp.active) return;
  const TensorSettings& s = settings_[block.tensor];
  const bool by_probability = s.rescale == Rescale::by_probability;
  const std::string& name = shape_.tensors[block.tensor].name;
  switch (recipe_.sparsification) {
    case Sparsification::none: break;
    case Sparsification::magnitude:
    case Sparsification::magnitude_outliers: {
      auto keys = scratch_.key_buffer(tau.size());
      ties::task_vector_keys<T>(theta, block.base, wide_keys_, keys);
      sparsify::keep_band<T>(keys, sp.lo, sp.hi, tau);
      break;
    }
    case Sparsification::random: {
      // Two simple loops, each vectorised: the draws (integer compares), then the kept entries.
      const CounterRng rng = sparsify::dare_stream(s.seed, model, name);
      const std::uint64_t threshold = CounterRng::threshold_below(sp.density);
      keep_.resize(tau.size());
      std::uint32_t* __restrict keep = keep_.data();
      const std::uint64_t first = block.first_element;
      for (std::size_t i = 0; i < tau.size(); ++i) keep[i] = rng.below(first + i, threshold);
      if (by_probability) {
        const T density = static_cast<T>(sp.density);  // divided, as mergekit does (not times 1/p)
        for (std::size_t i = 0; i < tau.size(); ++i) tau[i] = ties::keep_if(keep[i] != 0, tau[i] / density);
      } else {
        for (std::size_t i = 0; i < tau.size(); ++i) tau[i] = ties::keep_if(keep[i] != 0, tau[i]);
      }
      break;
    }
    case Sparsification::della: {
      probabilities_.resize(tau.size());
      della_probabilities<T>(block, model, tau, probabilities_);
      const CounterRng rng = sparsify::della_stream(s.seed, model, name);
      for (std::size_t i = 0; i < tau.size(); ++i) {
        const double p = probabilities_[i];
        const bool keep = rng.uniform(block.first_element + i) < p;
        tau[i] = keep ? (by_probability ? tau[i] / static_cast<T>(p) : tau[i]) : T(0);
      }
      break;
    }
  }
  if (with_l1 && sp.l1_applies) {
    const T factor = static_cast<T>(sp.l1_factor);
    for (auto& x : tau) x *= factor;
  }
}

template <class T>
void TaskVectorMerge::analyze_block(const Block<T>& block) {
  check_order(block);
  const std::size_t n = block.size();
  for (std::size_t m = 0; m < block.models.size(); ++m) {
    Sparse& sp = sparse(block.tensor, m);
    if (!sp.active) continue;
    switch (phase_) {
      case Phase::select:
      case Phase::tie_counts: {
        if (!sp.lo_problem && !sp.hi_problem) break;
        auto keys = scratch_.key_buffer(n);
        ties::task_vector_keys<T>(block.models[m], block.base, wide_keys_, keys);
        for (auto [cut, problem] : {std::pair{&sp.lo, sp.lo_problem}, std::pair{&sp.hi, sp.hi_problem}}) {
          if (!problem) continue;
          if (phase_ == Phase::select) {
            if (selection_->active(*problem)) selection_->count(*problem, keys);
          } else if (cut->needs_tie_break()) {
            cut->tied_seen += std::count(keys.begin(), keys.end(), cut->key);
          }
        }
        break;
      }
      case Phase::gather_ranks:
        if (sp.gather_offset)
          for (std::size_t i = 0; i < n; ++i)
            gathered_[*sp.gather_offset + block.first_element + i] =
                static_cast<std::int64_t>(bits::magnitude_key(static_cast<T>(block.models[m][i] - block.base[i])));
        break;
      case Phase::l1_norms: {
        if (settings_[block.tensor].rescale != Rescale::l1) break;
        auto tau = scratch_.of<T>().extra(n);
        for (std::size_t i = 0; i < n; ++i) sp.l1_before.add(std::abs(block.models[m][i] - block.base[i]));
        sparsified_task_vector<T>(block, m, false, tau);
        for (T x : tau) sp.l1_after.add(std::abs(x));
        break;
      }
      case Phase::merge: break;
    }
  }
}

template <class T>
MPIMERGE_VECTOR_CLONES void TaskVectorMerge::merge_block(const Block<T>& block, std::span<T> out) {
  check_order(block);
  const std::size_t n = block.size(), models = block.models.size();
  const TensorSettings& s = settings_[block.tensor];
  auto weighted = scratch_.of<T>().arrays(models, n);
  const std::span<T> w = weight_scratch_.of<T>().extra(models);
  for (std::size_t m = 0; m < models; ++m) {
    sparsified_task_vector<T>(block, m, true, weighted[m]);
    w[m] = static_cast<T>(s.weights[m]);
    for (auto& x : weighted[m]) x *= w[m];
  }
  if (recipe_.elects_sign) {
    auto extra = scratch_.of<T>().extra(2 * n);
    const std::span<T> divisor = extra.first(n), majority = extra.subspan(n);
    consensus::elect_and_merge<T>(weighted, w, s.election, out, divisor, majority);
    if (s.normalize)
      for (std::size_t i = 0; i < n; ++i) out[i] /= divisor[i];
  } else {
    std::fill(out.begin(), out.end(), T(0));
    for (const auto& x : weighted)
      for (std::size_t i = 0; i < n; ++i) out[i] += x[i];
    if (s.normalize) {
      const T divisor = static_cast<T>(s.divisor);
      for (auto& x : out) x /= divisor;
    }
  }
  if (s.lambda != 1.0) {
    const T lambda = static_cast<T>(s.lambda);
    for (auto& x : out) x *= lambda;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = block.base[i] + out[i];
}

std::vector<MethodFinding> TaskVectorMerge::findings() const {
  std::vector<MethodFinding> out;
  const Sparsification how = recipe_.sparsification;
  if (how != Sparsification::magnitude && how != Sparsification::magnitude_outliers) return out;
  for (std::size_t m = 0; m < shape_.models; ++m) {
    std::uint64_t kept = 0, total = 0;
    for (std::size_t t = 0; t < shape_.tensors.size(); ++t) {
      const Sparse& sp = sparse_[t * shape_.models + m];
      total += shape_.tensors[t].elements;
      kept += sp.active ? sp.band.hi - sp.band.lo : shape_.tensors[t].elements;
    }
    out.push_back({"task " + std::to_string(m) + " kept fraction",
                   total ? static_cast<double>(kept) / static_cast<double>(total) : 0.0});
  }
  return out;
}

template void TaskVectorMerge::analyze_block<float>(const Block<float>&);
template void TaskVectorMerge::analyze_block<double>(const Block<double>&);
template void TaskVectorMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void TaskVectorMerge::merge_block<double>(const Block<double>&, std::span<double>);

}  // namespace mpimerge
