// NearSwap (mergekit merge_methods/nearswap.py, nearswap_merge; alchemonaut's QuartetAnemoi-70B),
// per parameter, with a the base's value and b the one model's:
//   weight = clamp(t / max(|a - b|, 1e-6), 0, 1),   theta = weight * b + (1 - weight) * a
// Parameters within t of the base take the model's value; the others move towards it by t / |a - b|.
// Element-wise in the compute type, in mergekit's order of operations: torch evaluates `t / x` as
// x.reciprocal() * t (Tensor.__rtruediv__), two roundings, and so do we. No global quantity.
#include <algorithm>
#include <cmath>
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {
namespace {

constexpr double kDistanceFloor = 1e-6;  // mergekit: absdiff.clamp(min=1e-6)

class NearSwapMerge final : public MethodTemplate<NearSwapMerge> {
 public:
  explicit NearSwapMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "nearswap"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "nearswap");
    t_.clear();
    for (std::size_t i = 0; i < shape.tensors.size(); ++i) t_.push_back(params.number("t", i));
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    const T t = static_cast<T>(t_[block.tensor]), floor = static_cast<T>(kDistanceFloor);
    const std::span<const T> a = block.base, b = block.models[0];
    for (std::size_t i = 0; i < out.size(); ++i) {
      const T distance = std::max(std::fabs(a[i] - b[i]), floor);  // NaN stays NaN, as torch's clamp
      const T weight = std::clamp((T(1) / distance) * t, T(0), T(1));
      out[i] = weight * b[i] + (T(1) - weight) * a[i];
    }
  }

 private:
  MethodArgs args_;
  std::vector<double> t_;  // per tensor
};

}  // namespace

extern const MethodSpec kNearSwapSpec{
    .name = "nearswap",
    .summary = "NearSwap: the model's value where it lies within t of the base, a step of t towards it elsewhere",
    .parameters = {{.name = "t",
                    .help = "distance within which a parameter takes the model's value (weight t / |base - model|, "
                            "at most 1)",
                    .range = {.min = 0},
                    .sweepable = true,
                    .examples = {"0.0001", "0.01"}}},
    .min_models = 1,
    .max_models = 1,
    .make = make_method_of<NearSwapMerge>,
};

}  // namespace mpimerge
