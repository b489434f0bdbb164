#include "mpimerge/methods/model_stock.hpp"

#include <algorithm>
#include <cmath>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

constexpr double kNormProductFloor = 1e-6;  // mergekit: norm_product.clamp(min=1e-6)


}  // namespace

bool ModelStockMerge::per_vector(std::size_t tensor) const {
  return filter_wise_[tensor] && shape_.tensors[tensor].shape.size() >= 2;
}

double ModelStockMerge::interpolation(std::span<const double> gram, std::size_t n, const std::string& what) {
  double cos_sum = 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const double norms = std::sqrt(gram[i * n + i]) * std::sqrt(gram[j * n + j]);
      cos_sum += std::clamp(gram[i * n + j] / std::max(norms, kNormProductFloor), -1.0, 1.0);
      ++count;
    }
  const double cosine = cos_sum / static_cast<double>(count);
  const double denominator = 1.0 + static_cast<double>(n - 1) * cosine;
  if (denominator == 0.0)
    throw InputError("model_stock: the task vectors of " + what + " point in opposite directions (mean cosine " +
                     std::to_string(cosine) + "), so its interpolation 1 + (N - 1) cos is 0");
  return static_cast<double>(n) * cosine / denominator;
}

void ModelStockMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, "model_stock");
  filter_wise_.clear();
  for (std::size_t t = 0; t < shape.tensors.size(); ++t) filter_wise_.push_back(params.flag("filter_wise", t));
  sums_.assign(shape.tensors.size() * pairs(), ExactSum{});
  t_.assign(shape.tensors.size(), 0.0);
  measured_ = true;
  for (std::size_t t = 0; t < shape.tensors.size(); ++t) measured_ = measured_ && per_vector(t);
}

template <class T>
void ModelStockMerge::add_gram(const Block<T>& block, std::size_t begin, std::size_t end, std::span<ExactSum> sums) const {
  const std::size_t n = block.models.size();
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i; j < n; ++j, ++k)
      for (std::size_t e = begin; e < end; ++e) {
        const T a = block.models[i][e] - block.base[e], b = block.models[j][e] - block.base[e];
        sums[k].add_product(a, b);
      }
}

template <class T>
void ModelStockMerge::analyze_block(const Block<T>& block) {
  if (per_vector(block.tensor)) return;
  add_gram(block, 0, block.size(), std::span<ExactSum>(sums_).subspan(block.tensor * pairs(), pairs()));
}

void ModelStockMerge::finish_pass(Reductions& reductions) {
  reduce_exact_sums(reductions, sums_);
  const std::size_t n = shape_.models;
  gram_.resize(n * n);
  for (std::size_t t = 0; t < shape_.tensors.size(); ++t) {
    if (per_vector(t)) continue;
    std::size_t k = t * pairs();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i; j < n; ++j, ++k) gram_[i * n + j] = gram_[j * n + i] = sums_[k].value();
    t_[t] = interpolation(gram_, n, "tensor '" + shape_.tensors[t].name + "'");
  }
  measured_ = true;
}

template <class T>
void ModelStockMerge::merge_block(const Block<T>& block, std::span<T> out) {
  const std::size_t n = block.models.size();
  const T count = static_cast<T>(n);
  auto blend = [&](std::size_t begin, std::size_t end, double t) {
    const T weight = static_cast<T>(t), rest = T(1) - weight;
    for (std::size_t e = begin; e < end; ++e) {
      T sum = T(0);
      for (const auto& m : block.models) sum += m[e];
      out[e] = weight * (sum / count) + rest * block.base[e];
    }
  };
  if (!per_vector(block.tensor)) {
    blend(0, out.size(), t_[block.tensor]);
    return;
  }
  // Whole rows: every vector along the last dimension lies in this block.
  const MergedTensor& info = shape_.tensors[block.tensor];
  const std::size_t length = static_cast<std::size_t>(info.shape.back());
  if (length == 0) return;
  const std::string what = "a vector of tensor '" + info.name + "'";
  gram_.resize(n * n);
  for (std::size_t begin = 0; begin < out.size(); begin += length) {
    local_.assign(pairs(), ExactSum{});
    add_gram(block, begin, begin + length, local_);
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i; j < n; ++j, ++k) gram_[i * n + j] = gram_[j * n + i] = local_[k].value();
    blend(begin, begin + length, interpolation(gram_, n, what));
  }
}

template void ModelStockMerge::analyze_block<float>(const Block<float>&);
template void ModelStockMerge::analyze_block<double>(const Block<double>&);
template void ModelStockMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void ModelStockMerge::merge_block<double>(const Block<double>&, std::span<double>);

extern const MethodSpec kModelStockSpec{
    .name = "model_stock",
    .summary = "Model Stock: towards the models' average by their task vectors' angle",
    .parameters = {{.name = "filter_wise",
                    .type = ParameterType::boolean,
                    .default_value = ParameterScalar::of_boolean(false),
                    .help = "one interpolation per vector along the last dimension (per row) instead of per tensor",
                    .sweepable = true,
                    .examples = {"false", "true"}}},
    .min_models = 2,
    .make = make_method_of<ModelStockMerge>,
};

}  // namespace mpimerge
