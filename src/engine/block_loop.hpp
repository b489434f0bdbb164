#pragma once
// Walks rows of merged tensors in cache-sized blocks, decoding each input's block into the
// tensor's compute type, and hands the block to a callback:
//   visit(const Block<T>& block, std::size_t unit, std::uint64_t offset_in_unit)
#include <vector>

#include "engine/group_slices.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/methods/method.hpp"

namespace mpimerge {

// Elements per block: (models + 2) float arrays of this size stay in L2.
inline constexpr std::size_t kBlockElements = 4096;

// Consecutive elements of one tensor, raw, in every input.
struct RowsView {
  std::vector<std::span<const std::uint8_t>> raw;  // per input
  std::uint64_t elements = 0;
  std::uint64_t first_element = 0;  // flat index in the tensor
};

template <class T>
class BlockDecoder {
 public:
  explicit BlockDecoder(std::size_t inputs) : buffers_(inputs, std::vector<T>(kBlockElements)) {}

  template <class Visit>
  void run(const PlannedTensor& tensor, const RowsView& rows, bool has_base, std::size_t unit, Visit& visit) {
    const std::size_t inputs = buffers_.size();
    const std::size_t first_model = has_base ? 1 : 0;
    models_.resize(inputs - first_model);
    for (std::uint64_t offset = 0; offset < rows.elements; offset += kBlockElements) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockElements, rows.elements - offset));
      for (std::size_t i = 0; i < inputs; ++i) {
        const DType dtype = tensor.input_dtype[i];
        decode<T>(dtype, rows.raw[i].subspan(offset * dtype_size(dtype), n * dtype_size(dtype)),
                  std::span<T>(buffers_[i].data(), n));
        if (i >= first_model) models_[i - first_model] = std::span<const T>(buffers_[i].data(), n);
      }
      Block<T> block;
      block.tensor = tensor.merged_index;
      block.first_element = rows.first_element + offset;
      if (has_base) block.base = std::span<const T>(buffers_[0].data(), n);
      block.models = models_;
      visit(block, unit, offset);
    }
  }

 private:
  std::vector<std::vector<T>> buffers_;
  std::vector<std::span<const T>> models_;
};

// Both decoders, dispatched on the tensor's compute type.
class Decoders {
 public:
  explicit Decoders(std::size_t inputs) : f32_(inputs), f64_(inputs) {}
  template <class Visit>
  void run(const PlannedTensor& tensor, const RowsView& rows, bool has_base, std::size_t unit, Visit& visit) {
    if (tensor.compute == ComputeType::f64)
      f64_.run(tensor, rows, has_base, unit, visit);
    else
      f32_.run(tensor, rows, has_base, unit, visit);
  }

 private:
  BlockDecoder<float> f32_;
  BlockDecoder<double> f64_;
};

// Every unit of the loaded group that holds a merged tensor.
template <class Visit>
void for_each_block(const MergePlan& plan, const GroupSlices& slices, const InputSet& inputs, Visit&& visit) {
  Decoders decoders(inputs.readers.size());
  RowsView rows;
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const PlannedTensor& tensor = plan.tensors[slices.unit(u).tensor];
    if (tensor.action != TensorAction::merge) continue;
    rows.raw.clear();
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) rows.raw.push_back(slices.raw(i, u));
    rows.elements = slices.elements(u);
    rows.first_element = slices.first_element(u);
    decoders.run(tensor, rows, inputs.has_base, u, visit);
  }
}

}  // namespace mpimerge
