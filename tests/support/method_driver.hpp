#pragma once
// Runs a merge method on one process over whole tensors held in memory, as the engine would on
// one rank (LocalReductions), in blocks of a chosen size (whole rows where the method asks). The
// single-process reference the MPI tests compare the engine with at every rank count.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "mpimerge/methods/method.hpp"

namespace mpimerge::testing {

template <class T>
struct DriverTensor {
  using value_type = T;
  std::vector<T> base;                      // empty without a base
  std::vector<std::vector<T>> models;
  std::vector<std::vector<T>> aligned;      // per aligned input; empty vectors where absent
  std::vector<SideMatrix> side;             // per side input (given when the method wants them)
};

struct DriverInput {
  MergeShape shape;
  std::vector<DriverTensor<float>> f32;     // the tensors of compute type f32, in shape order
  std::vector<DriverTensor<double>> f64;    // and of f64
};

struct DriverOutput {
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<double>> f64;
};

namespace detail {
template <class T>
void blocks(MergeMethod& method, std::size_t tensor, const MergedTensor& info, const DriverTensor<T>& t,
            std::size_t block_size, std::vector<T>* out) {
  const std::size_t n = static_cast<std::size_t>(info.elements);
  const std::size_t row = static_cast<std::size_t>(info.row_elements());
  const std::size_t step = method.whole_rows(tensor) && row > 0 ? std::max<std::size_t>(1, block_size / row) * row
                                                                 : block_size;
  std::vector<std::span<const T>> models(t.models.size()), aligned(t.aligned.size());
  for (std::size_t at = 0; at < n; at += step) {
    const std::size_t size = std::min(step, n - at);
    for (std::size_t m = 0; m < models.size(); ++m) models[m] = std::span<const T>(t.models[m]).subspan(at, size);
    for (std::size_t a = 0; a < aligned.size(); ++a)
      aligned[a] = t.aligned[a].empty() ? std::span<const T>() : std::span<const T>(t.aligned[a]).subspan(at, size);
    Block<T> block;
    block.tensor = tensor;
    block.first_element = at;
    if (!t.base.empty()) block.base = std::span<const T>(t.base).subspan(at, size);
    block.models = models;
    block.aligned = aligned;
    if (out) method.merge(block, std::span<T>(*out).subspan(at, size));
    else method.analyze(block);
  }
}
}  // namespace detail

inline DriverOutput run_serially(MergeMethod& method, const DriverInput& in, std::size_t block_size) {
  LocalReductions local;
  method.start(in.shape);
  auto each = [&](auto&& f) {
    std::size_t i32 = 0, i64 = 0;
    for (std::size_t t = 0; t < in.shape.tensors.size(); ++t) {
      if (in.shape.tensors[t].compute == ComputeType::f64) {
        f(t, in.f64[i64], i64);
        ++i64;
      } else {
        f(t, in.f32[i32], i32);
        ++i32;
      }
    }
  };
  while (method.needs_pass()) {
    each([&](std::size_t t, const auto& tensor, std::size_t) {
      using T = typename std::decay_t<decltype(tensor)>::value_type;
      detail::blocks<T>(method, t, in.shape.tensors[t], tensor, block_size, nullptr);
    });
    method.finish_pass(local);
  }
  DriverOutput out;
  out.f32.resize(in.f32.size());
  out.f64.resize(in.f64.size());
  each([&](std::size_t t, const auto& tensor, std::size_t k) {
    if (method.wants_side_data(t)) method.tensor_side_data(t, tensor.side);
    auto& target = [&]() -> auto& {
      if constexpr (std::is_same_v<std::decay_t<decltype(tensor)>, DriverTensor<double>>) return out.f64[k];
      else return out.f32[k];
    }();
    target.assign(static_cast<std::size_t>(in.shape.tensors[t].elements), 0);
    if (method.whole_merge(t)) {  // as the engine does on the tensor's owner
      using T = typename std::decay_t<decltype(tensor)>::value_type;
      std::vector<std::span<const T>> models(tensor.models.begin(), tensor.models.end());
      Block<T> whole;
      whole.tensor = t;
      whole.base = tensor.base;
      whole.models = models;
      method.merge_whole(whole, std::span<T>(target));
    } else {
      detail::blocks(method, t, in.shape.tensors[t], tensor, block_size, &target);
    }
    method.release_side_data(t);
  });
  method.finish_merge(local);
  return out;
}

}  // namespace mpimerge::testing
