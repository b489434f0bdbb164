#include "mpimerge/methods/slerp.hpp"

#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

constexpr double kDotThreshold = 0.9995;  // mergekit's DOT_THRESHOLD: nearly parallel, lerp instead
constexpr double kNormEpsilon = 1e-8;     // mergekit's normalize: smaller norms are left alone


}  // namespace

SlerpMerge::Coefficients SlerpMerge::coefficients(double t, double norm0_squared, double norm1_squared, double dot) {
  const double n0 = std::sqrt(norm0_squared), n1 = std::sqrt(norm1_squared);
  const double cosine = dot / ((n0 > kNormEpsilon ? n0 : 1.0) * (n1 > kNormEpsilon ? n1 : 1.0));
  if (std::fabs(cosine) > kDotThreshold) return {1.0 - t, t, true};
  const double omega = std::acos(cosine);
  const double s = std::sin(omega);
  return {std::sin(omega - omega * t) / s, std::sin(omega * t) / s, false};
}

void SlerpMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  const ParameterView params(args_.params, args_.spec->parameters, shape_, "slerp");
  t_.clear();
  for (std::size_t i = 0; i < shape.tensors.size(); ++i) {
    t_.push_back(params.number("t", i));
  }
  sums_.assign(3 * shape.tensors.size(), ExactSum{});
  measured_ = shape.tensors.empty();
}

template <class T>
void SlerpMerge::analyze_block(const Block<T>& block) {
  ExactSum* s = &sums_[3 * block.tensor];
  const std::span<const T> v0 = block.base, v1 = block.models[0];
  for (std::size_t i = 0; i < v0.size(); ++i) {
    s[0].add_product(v0[i], v0[i]);
    s[1].add_product(v1[i], v1[i]);
    s[2].add_product(v0[i], v1[i]);
  }
}

void SlerpMerge::finish_pass(Reductions& reductions) {
  reduce_exact_sums(reductions, sums_);
  c_.clear();
  lerped_ = 0;
  for (std::size_t i = 0; i < t_.size(); ++i) {
    c_.push_back(coefficients(t_[i], sums_[3 * i].value(), sums_[3 * i + 1].value(), sums_[3 * i + 2].value()));
    lerped_ += c_.back().linear;
  }
  measured_ = true;
}

template <class T>
void SlerpMerge::merge_block(const Block<T>& block, std::span<T> out) {
  const T c0 = static_cast<T>(c_[block.tensor].c0), c1 = static_cast<T>(c_[block.tensor].c1);
  const std::span<const T> v0 = block.base, v1 = block.models[0];
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = c0 * v0[i] + c1 * v1[i];
}

std::vector<MethodFinding> SlerpMerge::findings() const {
  return {{"tensors interpolated linearly (nearly parallel)", static_cast<double>(lerped_)}};
}

template void SlerpMerge::analyze_block<float>(const Block<float>&);
template void SlerpMerge::analyze_block<double>(const Block<double>&);
template void SlerpMerge::merge_block<float>(const Block<float>&, std::span<float>);
template void SlerpMerge::merge_block<double>(const Block<double>&, std::span<double>);

extern const MethodSpec kSlerpSpec{
    .name = "slerp",
    .summary = "spherical interpolation between the base and one model (parameter t)",
    .parameters = {{.name = "t",
                    .help = "interpolation position: 0 gives the base, 1 the other model",
                    .range = {.min = 0, .max = 1},
                    .sweepable = true,
                    .examples = {"0.3", "0.7"}}},
    .min_models = 1,
    .max_models = 1,
    .make = make_method_of<SlerpMerge>,
};

}  // namespace mpimerge
