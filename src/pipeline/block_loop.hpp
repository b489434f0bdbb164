#pragma once
// Walks rows of merged tensors in cache-sized blocks, decoding each input's block into the
// tensor's compute type, and hands the block to a callback:
//   visit(const Block<T>& block, std::size_t unit, std::uint64_t offset_in_unit)
// Blocks of a tensor come in element order. For a tensor whose method wants whole rows, every
// block holds whole rows (at least one, however long).
#include <algorithm>
#include <vector>

#include "pipeline/group_slices.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/methods/method.hpp"

namespace mpimerge {

// Elements per block: a method's dozen or so float arrays of this size stay in L1 and L2 (measured:
// 1024 ran the TIES counting pass about 10% faster than 4096 on the 2B benchmark).
inline constexpr std::size_t kBlockElements = 1024;

// The block length for a tensor: kBlockElements, or as many whole rows as fit in it (at least one).
inline std::uint64_t block_elements(std::uint64_t row_elements, bool whole_rows) {
  if (!whole_rows || row_elements == 0) return kBlockElements;
  return std::max<std::uint64_t>(1, kBlockElements / row_elements) * row_elements;
}

// Consecutive elements of one tensor, raw, in every input.
struct RowsView {
  std::vector<std::span<const std::uint8_t>> raw;      // per input
  std::vector<std::span<const std::uint8_t>> aligned;  // per aligned input; empty where absent
  std::uint64_t elements = 0;
  std::uint64_t first_element = 0;  // flat index in the tensor
  bool whole_rows = false;
};

template <class T>
class BlockDecoder {
 public:
  explicit BlockDecoder(std::size_t inputs, std::size_t aligned = 0) : buffers_(inputs), aligned_buffers_(aligned) {}

  template <class Visit>
  void run(const PlannedTensor& tensor, const RowsView& rows, bool has_base, std::size_t unit, Visit& visit) {
    const std::size_t inputs = buffers_.size();
    const std::size_t first_model = has_base ? 1 : 0;
    const std::uint64_t step = block_elements(tensor.output.row_elements(), rows.whole_rows);
    const std::size_t most = static_cast<std::size_t>(std::min<std::uint64_t>(step, rows.elements));
    for (auto& b : buffers_) b.resize(std::max(b.size(), most));
    for (auto& b : aligned_buffers_) b.resize(std::max(b.size(), most));
    models_.resize(inputs - first_model);
    inputs_.resize(inputs);
    aligned_.resize(aligned_buffers_.size());
    for (std::uint64_t offset = 0; offset < rows.elements; offset += step) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(step, rows.elements - offset));
      for (std::size_t i = 0; i < inputs; ++i) {
        const DType dtype = tensor.input_dtype[i];
        inputs_[i] = block_of(dtype, rows.raw[i].subspan(offset * dtype_size(dtype), n * dtype_size(dtype)), buffers_[i]);
        if (i >= first_model) models_[i - first_model] = inputs_[i];
      }
      for (std::size_t a = 0; a < aligned_.size(); ++a) {
        aligned_[a] = {};
        if (a >= rows.aligned.size() || rows.aligned[a].empty()) continue;
        const DType dtype = tensor.aligned_dtype[a];
        aligned_[a] = block_of(dtype, rows.aligned[a].subspan(offset * dtype_size(dtype), n * dtype_size(dtype)),
                               aligned_buffers_[a]);
      }
      Block<T> block;
      block.tensor = tensor.merged_index;
      block.first_element = rows.first_element + offset;
      if (has_base) block.base = inputs_[0];
      block.models = models_;
      block.aligned = aligned_;
      visit(block, unit, offset);
    }
  }

 private:
  // One input's block in T: its own bytes where they already are T (float32 inputs computed in
  // float: no copy, the group's buffers are aligned), else decoded into buffer.
  static std::span<const T> block_of(DType dtype, std::span<const std::uint8_t> raw, std::vector<T>& buffer) {
    const std::size_t n = raw.size() / dtype_size(dtype);
    if (const auto same = view_as<T>(dtype, raw)) return *same;
    decode<T>(dtype, raw, std::span<T>(buffer.data(), n));
    return std::span<const T>(buffer.data(), n);
  }

  std::vector<std::vector<T>> buffers_, aligned_buffers_;
  std::vector<std::span<const T>> inputs_, models_, aligned_;
};

// Both decoders, dispatched on the tensor's compute type.
class Decoders {
 public:
  explicit Decoders(std::size_t inputs, std::size_t aligned = 0) : f32_(inputs, aligned), f64_(inputs, aligned) {}
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

// Every unit of the loaded group that holds a merged tensor. whole_rows[merged index] asks for
// blocks of whole rows (empty: none does); skip[merged index] leaves a tensor out (merged whole
// elsewhere: whole_tensors.hpp).
template <class Visit>
void for_each_block(const MergePlan& plan, const GroupSlices& slices, const InputSet& inputs,
                    const std::vector<bool>& whole_rows, Visit&& visit, const std::vector<bool>& skip = {}) {
  Decoders decoders(inputs.readers.size(), inputs.aligned.size());
  RowsView rows;
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const PlannedTensor& tensor = plan.tensors[slices.unit(u).tensor];
    if (tensor.action != TensorAction::merge) continue;
    if (tensor.merged_index < skip.size() && skip[tensor.merged_index]) continue;
    rows.raw.clear();
    rows.aligned.clear();
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) rows.raw.push_back(slices.raw(i, u));
    for (std::size_t a = 0; a < inputs.aligned.size(); ++a)
      rows.aligned.push_back(slices.raw(inputs.readers.size() + a, u));
    rows.elements = slices.elements(u);
    rows.first_element = slices.first_element(u);
    rows.whole_rows = tensor.merged_index < whole_rows.size() && whole_rows[tensor.merged_index];
    decoders.run(tensor, rows, inputs.has_base, u, visit);
  }
}

}  // namespace mpimerge
