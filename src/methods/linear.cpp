#include "mpimerge/methods/linear.hpp"

#include "mpimerge/error.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {
namespace {

std::vector<ParameterDef> parameters(bool job_files_require_weights) {
  return {{.name = "weight",
           .scope = ParameterScope::per_model,
           .default_value = ParameterScalar::of_number(1.0),
           .help = job_files_require_weights ? "weight of each model (job files must give it, as in mergekit)"
                                             : "weight of each model",
           .range = {.min = 0},
           .required_in_job_files = job_files_require_weights},
          {.name = "normalize",
           .type = ParameterType::boolean,
           .default_value = ParameterScalar::of_boolean(true),
           .help = "divide by the sum of the weights",
           .sweepable = true,
           .examples = {"true", "false"}}};
}

}  // namespace

void LinearMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, name());
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

extern const MethodSpec kLinearSpec{
    .name = "linear",
    .summary = "weighted average of the models (mergekit's linear)",
    .parameters = parameters(true),
    .needs_base = false,
    .make = make_method_of<LinearMerge>,
};

extern const MethodSpec kAverageSpec{
    .name = "average",
    .summary = "weighted average of the models (weights default to 1)",
    .parameters = parameters(false),
    .needs_base = false,
    .make = make_method_of<LinearMerge>,
};

}  // namespace mpimerge
