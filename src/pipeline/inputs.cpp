#include "pipeline/inputs.hpp"

#include <algorithm>

#include "mpimerge/convert.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/util/format.hpp"
#include "mpimerge/util/memory.hpp"

namespace mpimerge {
namespace {
constexpr std::uint64_t kFixedOverhead = std::uint64_t{256} << 20;
}

OpenInputs open_inputs(const std::optional<std::string>& base, const std::vector<std::string>& models,
                       const mpi::Comm& comm, const SideInputPaths& side) {
  OpenInputs inputs;
  inputs.set.has_base = base.has_value();
  // Each input is pinned as it is opened (see durability/input_pins.hpp), under the role
  // job_inputs() gives it.
  auto open = [&](const std::string& role, const std::string& path) {
    mpi::run_agreed(comm, [&] {
      const InputPins::Snapshot before = InputPins::before_open(path);
      inputs.owned.push_back(storage::open_checkpoint(path, comm));
      inputs.pins.pin(role, *inputs.owned.back(), before);
    });
    return inputs.owned.back().get();
  };
  if (base) inputs.set.readers.push_back(open("base", *base));
  for (std::size_t m = 0; m < models.size(); ++m)
    inputs.set.readers.push_back(open("model " + std::to_string(m + 1), models[m]));
  inputs.set.aligned_name = side.aligned_name;
  inputs.set.side_name = side.matrices_name;
  for (std::size_t m = 0; m < side.aligned.size(); ++m)
    inputs.set.aligned.push_back(open(side.aligned_name + " " + std::to_string(m + 1), side.aligned[m]));
  for (std::size_t m = 0; m < side.matrices.size(); ++m)
    inputs.set.side.push_back(open(side.matrices_name + " " + std::to_string(m + 1), side.matrices[m]));
  return inputs;
}

std::vector<SideMatrix> read_side_matrices(const PlannedTensor& tensor, const InputSet& inputs) {
  std::vector<SideMatrix> out(inputs.side.size());
  std::vector<std::uint8_t> raw;
  for (std::size_t s = 0; s < inputs.side.size(); ++s) {
    if (!tensor.side_index[s]) continue;
    const TensorInfo& info = inputs.side[s]->tensors()[*tensor.side_index[s]];
    const std::uint64_t rows = info.rows(), row_bytes = info.row_elements() * dtype_size(info.dtype);
    raw.resize(rows * row_bytes);
    // Every rank reads every row: the same calls everywhere, as collective reads need.
    for_each_transfer(rows, RowRange{0, rows}, row_bytes, [&](RowRange part) {
      inputs.side[s]->read_rows(*tensor.side_index[s], part,
                                std::span<std::uint8_t>(raw).subspan(part.begin * row_bytes, part.count() * row_bytes));
    });
    out[s].shape = info.shape;
    out[s].values.resize(info.elements());
    decode<double>(info.dtype, raw, out[s].values);
  }
  return out;
}

MemoryBudget memory_budget(std::optional<std::uint64_t> requested, const mpi::Comm& comm) {
  MemoryBudget budget;
  if (requested) {
    budget = {*requested, "--memory-budget"};
  } else {
    const MemoryLimit limit = usable_memory();
    const auto ranks = static_cast<std::uint64_t>(comm.ranks_on_node());
    const std::uint64_t share = limit.bytes / 10 * 7 / ranks;
    budget.bytes = share > 2 * kFixedOverhead ? share - kFixedOverhead : share / 2;
    budget.source = "70% of " + format_bytes(limit.bytes) + " (" + limit.source + ") shared by " + std::to_string(ranks) +
                    (ranks == 1 ? " rank" : " ranks") + " on the node, " +
                    (share > 2 * kFixedOverhead ? "less " + format_bytes(kFixedOverhead) + " for MPI, HDF5 and the program"
                                                : "halved for MPI, HDF5 and the program");
  }
  // Every rank forms the same groups: the smallest budget holds everywhere, with its rank's reason.
  const std::vector<std::uint64_t> all = comm.allgather(budget.bytes);
  const auto smallest = std::min_element(all.begin(), all.end());
  comm.broadcast(budget.source, static_cast<int>(smallest - all.begin()));
  budget.bytes = *smallest;
  return budget;
}

void check_slices(const MergePlan& plan, const InputSet& inputs, const GroupSlices& slices, bool allow_nonfinite) {
  for (std::size_t u = 0; u < slices.units(); ++u) {
    const PlannedTensor& tensor = plan.tensors[slices.unit(u).tensor];
    for (std::size_t i = 0; i < inputs.readers.size(); ++i) {
      if (tensor.action == TensorAction::merge) {
        // One vectorized pass over the bytes as read; the slow search for the first bad element
        // runs only on failure. The lowest failing rank's message wins (Comm::agree), so the
        // element named is the tensor's first bad one whatever the rank count.
        if (!allow_nonfinite && count_nonfinite(tensor.input_dtype[i], slices.raw(i, u)) != 0) {
          const std::uint64_t first = slices.first_element(u) + first_nonfinite(tensor.input_dtype[i], slices.raw(i, u));
          throw InputError(inputs.label(i) + ": tensor '" + tensor.output.name + "' holds NaN or infinite values (the first at element " +
                           std::to_string(first) + "); pass --allow-nonfinite to merge them anyway");
        }
        if (i + 1 == inputs.readers.size() && !allow_nonfinite)
          for (std::size_t a = 0; a < inputs.aligned.size(); ++a)
            if (tensor.aligned_index[a] && count_nonfinite(tensor.aligned_dtype[a], slices.raw(inputs.readers.size() + a, u)) != 0) {
              const std::uint64_t first = slices.first_element(u) + first_nonfinite(tensor.aligned_dtype[a], slices.raw(inputs.readers.size() + a, u));
              throw InputError(inputs.aligned_label(a) + ": tensor '" + tensor.output.name + "' holds NaN or infinite values (the first at element " +
                               std::to_string(first) + "); pass --allow-nonfinite to merge them anyway");
            }
      } else if (i > 0) {
        const auto a = slices.raw(0, u), b = slices.raw(i, u);
        if (!std::equal(a.begin(), a.end(), b.begin(), b.end()))
          throw InputError("tensor '" + tensor.output.name + "' (" + std::string(dtype_name(tensor.output.dtype)) +
                           ", not merged) differs between " + inputs.label(0) + " and " + inputs.label(i));
      }
    }
  }
}

}  // namespace mpimerge
