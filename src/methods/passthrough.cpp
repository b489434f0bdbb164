// Passthrough (mergekit merge_methods/passthrough.py): the one model's tensors as they are, each
// multiplied by its optional `scale`. With a job file's slices it stacks layer ranges of models
// into a model of another depth (a "frankenmerge"): each output layer is one source's layer.
#include <vector>

#include "mpimerge/methods/method.hpp"
#include "mpimerge/methods/method_spec.hpp"

namespace mpimerge {
namespace {

class PassthroughMerge final : public MethodTemplate<PassthroughMerge> {
 public:
  explicit PassthroughMerge(const MethodArgs& args) : args_(args) {}
  std::string_view name() const override { return "passthrough"; }

  void start(const MergeShape& shape) override {
    MergeMethod::start(shape);
    const ParameterView params(args_.params, args_.spec->parameters, shape_, "passthrough");
    scale_.clear();
    for (std::size_t i = 0; i < shape.tensors.size(); ++i) scale_.push_back(params.number("scale", i, 0));
  }

  template <class T>
  void merge_block(const Block<T>& block, std::span<T> out) {
    const std::span<const T> in = block.models[0];
    const double scale = scale_[block.tensor];
    if (scale == 1.0) {  // mergekit multiplies only when a scale is given; x * 1 is x anyway
      std::copy(in.begin(), in.end(), out.begin());
      return;
    }
    const T s = static_cast<T>(scale);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = in[i] * s;
  }

 private:
  MethodArgs args_;
  std::vector<double> scale_;  // per tensor
};

}  // namespace

extern const MethodSpec kPassthroughSpec{
    .name = "passthrough",
    .summary = "the one model's tensors, each times its scale (with slices: layer ranges stacked into a new model)",
    .parameters = {{.name = "scale",
                    .scope = ParameterScope::per_model,
                    .default_value = ParameterScalar::of_number(1.0),
                    .help = "factor for the model's tensors (a gradient or filters scale some of them)",
                    .examples = {"0.5"}}},
    .needs_base = false,
    .min_models = 1,
    .max_models = 1,
    .make = make_method_of<PassthroughMerge>,
};

}  // namespace mpimerge
