#include "mpimerge/methods/linear.hpp"

#include "mpimerge/error.hpp"
#include "mpimerge/util/vector_clones.hpp"

namespace mpimerge {

template <class T>
MPIMERGE_VECTOR_CLONES void TaskArithmeticMerge::merge_block(const Block<T>& block, std::span<T> out) {
  const T lambda = static_cast<T>(lambda_);
  for (std::size_t i = 0; i < out.size(); ++i) {
    T sum = T(0);
    for (const auto& model : block.models) sum += model[i] - block.base[i];
    out[i] = block.base[i] + lambda * sum;
  }
}

void AverageMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  if (weights_.empty()) weights_.assign(shape.models, 1.0);
  if (weights_.size() != shape.models)
    throw UsageError("average: " + std::to_string(weights_.size()) + " weights given for " +
                     std::to_string(shape.models) + " models");
  weight_sum_ = 0;
  for (double w : weights_) weight_sum_ += w;
  if (weight_sum_ == 0) throw UsageError("average: the weights sum to 0");
}

template <class T>
MPIMERGE_VECTOR_CLONES void AverageMerge::merge_block(const Block<T>& block, std::span<T> out) {
  const T total = static_cast<T>(weight_sum_);
  for (std::size_t i = 0; i < out.size(); ++i) {
    T sum = T(0);
    for (std::size_t t = 0; t < block.models.size(); ++t)
      sum += static_cast<T>(weights_[t]) * block.models[t][i];
    out[i] = sum / total;
  }
}

template void TaskArithmeticMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void TaskArithmeticMerge::merge_block<double>(const Block<double>&, std::span<double>);
template void AverageMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void AverageMerge::merge_block<double>(const Block<double>&, std::span<double>);

}  // namespace mpimerge
