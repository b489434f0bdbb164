#include "mpimerge/methods/fisher.hpp"

#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/linear.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {


}  // namespace

void FisherMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, "fisher");
  floor_ = params.number("fisher_floor", 0);
  favor_target_ = params.flag("favor_target_model", 0);
  normalize_ = params.flag("normalize_fisher", 0);
  has_fisher_.clear();
  weights_.assign(shape.tensors.size(), std::vector<double>(shape.models));
  weight_sum_.assign(shape.tensors.size(), 0.0);
  bool any_fisher = false;
  for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
    const MergedTensor& info = shape.tensors[t];
    std::size_t present = 0;
    for (bool p : info.aligned_present) present += p;
    if (present != 0 && present != shape.models) {
      std::size_t missing = 0;
      while (info.aligned_present[missing]) ++missing;
      throw InputError("fisher: tensor '" + info.name + "' has a Fisher for " + std::to_string(present) + " of " +
                       std::to_string(shape.models) + " models (not for model " + std::to_string(missing + 1) +
                       "): give every model's Fisher of it, or none (then it is averaged)");
    }
    has_fisher_.push_back(present != 0);
    any_fisher = any_fisher || present != 0;
    for (std::size_t m = 0; m < shape.models; ++m) weight_sum_[t] += weights_[t][m] = params.number("weight", t, m);
    if (weight_sum_[t] == 0)
      throw UsageError("fisher: the weights of tensor '" + info.name + "' sum to 0 (they also average tensors "
                       "without a Fisher, and elements whose Fisher sum is 0)");
  }
  squares_.assign(shape.models, ExactSum{});
  scale_.assign(shape.models, 1.0);
  measured_ = !(normalize_ && any_fisher);
  normalized_ = !measured_;
}

template <class T>
void FisherMerge::analyze_block(const Block<T>& block) {
  if (!has_fisher_[block.tensor]) return;
  for (std::size_t m = 0; m < block.aligned.size(); ++m)
    for (T f : block.aligned[m]) squares_[m].add_product(f, f);
}

void FisherMerge::finish_pass(Reductions& reductions) {
  reduce_exact_sums(reductions, squares_);
  for (std::size_t m = 0; m < squares_.size(); ++m) {
    const double norm = std::sqrt(squares_[m].value());
    if (!(norm > 0))
      throw InputError("fisher: the Fisher of model " + std::to_string(m + 1) +
                       " is 0 everywhere, so it cannot be normalised (set normalize_fisher: false)");
    scale_[m] = 1.0 / norm;
  }
  measured_ = true;
}

template <class T>
void FisherMerge::merge_block(const Block<T>& block, std::span<T> out) {
  const std::size_t t = block.tensor;
  const auto& w = weights_[t];
  if (!has_fisher_[t]) {
    weighted_average<T>(block.models, w, weight_sum_[t], out);
    return;
  }
  const std::size_t models = block.models.size();
  for (std::size_t i = 0; i < out.size(); ++i) {
    double numerator = 0, denominator = 0;
    for (std::size_t m = 0; m < models; ++m) {
      double f = static_cast<double>(block.aligned[m][i]);
      if (f < 0)
        throw InputError("fisher: the Fisher of model " + std::to_string(m + 1) + " for tensor '" +
                         shape_.tensors[t].name + "' holds a negative value (" + format_number(f) +
                         "): a diagonal Fisher is a mean of squares");
      if (!favor_target_ || m == 0) f = std::max(f, floor_);
      const double cf = w[m] * scale_[m] * f;
      numerator += cf * static_cast<double>(block.models[m][i]);
      denominator += cf;
    }
    if (denominator != 0) {
      out[i] = static_cast<T>(numerator / denominator);
      continue;
    }
    double sum = 0;
    for (std::size_t m = 0; m < models; ++m) sum += w[m] * static_cast<double>(block.models[m][i]);
    out[i] = static_cast<T>(sum / weight_sum_[t]);
  }
}

std::vector<MethodFinding> FisherMerge::findings() const {
  std::vector<MethodFinding> out;
  if (normalized_)
    for (std::size_t m = 0; m < scale_.size(); ++m)
      out.push_back({"model " + std::to_string(m + 1) + " Fisher norm", 1.0 / scale_[m]});
  return out;
}

template void FisherMerge::analyze_block<float>(const Block<float>&);
template void FisherMerge::analyze_block<double>(const Block<double>&);
template void FisherMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void FisherMerge::merge_block<double>(const Block<double>&, std::span<double>);

extern const MethodSpec kFisherSpec{
    .name = "fisher",
    .summary = "Fisher-weighted averaging (one diagonal Fisher per model: --fisher)",
    .parameters =
        {
            {.name = "weight",
             .scope = ParameterScope::per_model,
             .default_value = ParameterScalar::of_number(1.0),
             .help = "the model's merging coefficient",
             .range = {.min = 0}},
            {.name = "fisher_floor",
             .scope = ParameterScope::merge,
             .default_value = ParameterScalar::of_number(1e-6),
             .help = "smallest Fisher value used (the paper's fisher_floor)",
             .range = {.min = 0},
             .sweepable = true,
             .examples = {"1e-06", "0.5"}},
            {.name = "favor_target_model",
             .scope = ParameterScope::merge,
             .type = ParameterType::boolean,
             .default_value = ParameterScalar::of_boolean(true),
             .help = "apply the floor to the first model only (the paper's default); false: to every model",
             .sweepable = true,
             .examples = {"true", "false"}},
            {.name = "normalize_fisher",
             .scope = ParameterScope::merge,
             .type = ParameterType::boolean,
             .default_value = ParameterScalar::of_boolean(true),
             .help = "divide each model's coefficient by the L2 norm of its whole Fisher",
             .sweepable = true,
             .examples = {"true", "false"}},
        },
    .side_inputs = {{.name = "fisher",
                     .kind = SideInputKind::aligned,
                     .help = "each model's diagonal Fisher, in model order (the models' tensor names and shapes)"}},
    .needs_base = false,
    .make = make_method_of<FisherMerge>,
};

}  // namespace mpimerge
