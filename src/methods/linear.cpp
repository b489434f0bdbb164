#include "mpimerge/methods/linear.hpp"

#include "mpimerge/error.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {
namespace {

const std::vector<ParameterDef> kLinearParameters{
    {"weight", ParameterScope::per_model, ParameterType::number, std::nullopt, "weight of each model (required)"},
    {"normalize", ParameterScope::global, ParameterType::boolean, ParameterScalar::of_boolean(true),
     "divide by the sum of the weights"},
};

const std::vector<ParameterDef> kAverageParameters{
    {"weight", ParameterScope::per_model, ParameterType::number, ParameterScalar::of_number(1.0), "weight of each model"},
    {"normalize", ParameterScope::global, ParameterType::boolean, ParameterScalar::of_boolean(true),
     "divide by the sum of the weights"},
};

}  // namespace

LinearMerge::LinearMerge(const MethodOptions& options, bool weights_required)
    : options_(options), weights_required_(weights_required) {}

std::span<const ParameterDef> LinearMerge::parameters() const {
  return weights_required_ ? kLinearParameters : kAverageParameters;
}

void LinearMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  check_weight_count(options_, shape.models, name());
  const ParameterView params(options_.params, parameters(), shape_, name());
  weights_.assign(shape.tensors.size(), std::vector<double>(shape.models));
  divisor_.assign(shape.tensors.size(), 1.0);
  for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
    // mergekit divides by weights.sum() of a tensor of the weights in the tensors' dtype: the
    // weights rounded to the compute type and summed in it, in model order (1.3199999f for
    // 0.03 + 0.75 + 0.54 in float32, where the exact sum rounds to 1.32f).
    float sum32 = 0;
    double sum64 = 0;
    for (std::size_t m = 0; m < shape.models; ++m) {
      const double w = weights_[t][m] = params.number("weight", t, m);
      sum32 += static_cast<float>(w);
      sum64 += w;
    }
    const double sum = shape.tensors[t].compute == ComputeType::f64 ? sum64 : static_cast<double>(sum32);
    if (!params.flag("normalize", t)) continue;
    if (sum == 0)
      throw UsageError(std::string(name()) + ": the weights of tensor '" + shape.tensors[t].name +
                       "' sum to 0, so they cannot be normalised (set normalize: false, or change the weights)");
    divisor_[t] = sum;
  }
}

template <class T>
MPIMERGE_VECTOR_CLONES void LinearMerge::merge_block(const Block<T>& block, std::span<T> out) {
  weighted_average<T>(block.models, weights_[block.tensor], divisor_[block.tensor], out);
}

template void LinearMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void LinearMerge::merge_block<double>(const Block<double>&, std::span<double>);

}  // namespace mpimerge
