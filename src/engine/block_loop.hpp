#pragma once
// Walks the loaded group's units of merged tensors in cache-sized blocks, decoding each input's
// block into the tensor's compute type, and hands the block to a callback:
//   visit(const Block<T>& block, std::size_t unit, std::uint64_t offset_in_unit)
#include <vector>

#include "engine/group_slices.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/methods/method.hpp"

namespace mpimerge {

// Elements per block: (models + 2) float arrays of this size stay in L2.
inline constexpr std::size_t kBlockElements = 4096;

template <class T>
class BlockDecoder {
 public:
  explicit BlockDecoder(std::size_t inputs) : buffers_(inputs, std::vector<T>(kBlockElements)) {}

  template <class Visit>
  void run(const PlannedTensor& tensor, std::size_t unit, const GroupSlices& slices, bool has_base, Visit& visit) {
    const std::size_t inputs = buffers_.size();
    const std::size_t first_model = has_base ? 1 : 0;
    const std::uint64_t count = slices.elements(unit);
    const std::uint64_t first_element = slices.first_element(unit);
    models_.resize(inputs - first_model);
    for (std::uint64_t offset = 0; offset < count; offset += kBlockElements) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockElements, count - offset));
      for (std::size_t i = 0; i < inputs; ++i) {
        const DType dtype = tensor.input_dtype[i];
        const auto raw = slices.raw(i, unit).subspan(offset * dtype_size(dtype), n * dtype_size(dtype));
        decode<T>(dtype, raw, std::span<T>(buffers_[i].data(), n));
        if (i >= first_model) models_[i - first_model] = std::span<const T>(buffers_[i].data(), n);
      }
      Block<T> block;
      block.tensor = tensor.merged_index;
      block.first_element = first_element + offset;
      if (has_base) block.base = std::span<const T>(buffers_[0].data(), n);
      block.models = models_;
      visit(block, unit, offset);
    }
  }

 private:
  std::vector<std::vector<T>> buffers_;
  std::vector<std::span<const T>> models_;
};

template <class Visit>
void for_each_block(const MergePlan& plan, const GroupSlices& slices, const InputSet& inputs, Visit&& visit) {
  BlockDecoder<float> f32(inputs.readers.size());
  BlockDecoder<double> f64(inputs.readers.size());
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const PlannedTensor& tensor = plan.tensors[slices.unit(u).tensor];
    if (tensor.action != TensorAction::merge) continue;
    if (tensor.compute == ComputeType::f64)
      f64.run(tensor, u, slices, inputs.has_base, visit);
    else
      f32.run(tensor, u, slices, inputs.has_base, visit);
  }
}

}  // namespace mpimerge
