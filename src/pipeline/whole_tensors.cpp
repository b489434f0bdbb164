#include "pipeline/whole_tensors.hpp"

#include <chrono>
#include <map>

#include "mpimerge/convert.hpp"

namespace mpimerge {
namespace {

struct WholeJob {
  std::size_t tensor = 0;  // plan index
  std::size_t unit = 0;    // in the loaded group
  int owner = 0;
};

// On the owner: the tensor decoded from the gathered inputs (freed as they are decoded), merged
// whole, and encoded to the output dtype.
template <class T>
std::vector<std::uint8_t> merge_owned(const PlannedTensor& tensor, std::size_t plan_index, std::vector<std::vector<std::uint8_t>>& gathered,
                                      bool has_base, MergeMethod& method, const NonfiniteCounts* nonfinite) {
  const std::size_t n = static_cast<std::size_t>(tensor.output.elements());
  std::vector<std::vector<T>> decoded(gathered.size());
  for (std::size_t i = 0; i < gathered.size(); ++i) {
    decoded[i].resize(n);
    decode<T>(tensor.input_dtype[i], gathered[i], decoded[i]);
    gathered[i] = {};
  }
  const std::size_t first_model = has_base ? 1 : 0;
  std::vector<std::span<const T>> models;
  for (std::size_t i = first_model; i < decoded.size(); ++i) models.emplace_back(decoded[i]);
  Block<T> whole;
  whole.tensor = tensor.merged_index;
  whole.first_element = 0;
  if (has_base) whole.base = decoded[0];
  whole.models = models;
  std::vector<T> merged(n);
  method.merge_whole(whole, merged);
  std::vector<std::uint8_t> raw(n * dtype_size(tensor.output.dtype));
  if (!nonfinite) {
    encode<T>(merged, tensor.output.dtype, raw);
  } else if (const std::uint64_t bad = encode_counting_nonfinite<T>(merged, tensor.output.dtype, raw); bad != 0) {
    nonfinite->in_output[plan_index] += bad;
    nonfinite->computed[plan_index] += count_nonfinite_values<T>(merged);
  }
  return raw;
}

}  // namespace

std::vector<bool> whole_tensors_of(const MergeMethod& method, std::size_t tensors) {
  std::vector<bool> out(tensors);
  for (std::size_t t = 0; t < tensors; ++t) out[t] = method.whole_merge(t).has_value();
  return out;
}

std::uint64_t merge_whole_tensors(const MergePlan& plan, const WorkPlan& work, std::size_t group,
                                  const GroupSlices& slices, const InputSet& inputs, MergeMethod& method,
                                  const mpi::Comm& comm, PhaseClock& phases, double& seconds,
                                  const std::vector<std::span<std::uint8_t>>& out,
                                  const std::function<void(std::uint64_t)>& round_done, const NonfiniteCounts* nonfinite) {
  std::uint64_t done = 0;
  if (group >= work.rounds.size()) return done;
  const int rank = comm.rank(), ranks = comm.size();
  std::map<std::size_t, std::size_t> unit_of;  // plan tensor -> its unit in the group
  for (std::size_t u = 0; u < slices.units(); ++u) unit_of[slices.unit(u).tensor] = u;
  auto timed = [&](auto&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (const std::vector<std::size_t>& round : work.rounds[group]) {
    // The round's tensors this method merges whole: the same list on every rank.
    std::vector<WholeJob> jobs;
    for (std::size_t t : round) {
      const PlannedTensor& tensor = plan.tensors[t];
      if (tensor.action == TensorAction::merge && method.whole_merge(tensor.merged_index))
        jobs.push_back({t, unit_of.at(t), work.owner[t]});
    }
    if (jobs.empty()) continue;

    // 1. Every input's rows to the owners, each rank's at its rows' place.
    const WholeJob* mine = nullptr;
    std::vector<std::vector<std::uint8_t>> gathered;
    std::vector<mpi::Comm::Outgoing> sends;
    std::vector<mpi::Comm::Incoming> receives;
    for (const WholeJob& job : jobs) {
      const PlannedTensor& tensor = plan.tensors[job.tensor];
      if (job.owner == rank) {
        mine = &job;
        gathered.resize(tensor.input_dtype.size());
      }
      for (std::size_t i = 0; i < tensor.input_dtype.size(); ++i) {
        const std::uint64_t row_bytes = tensor.output.row_elements() * dtype_size(tensor.input_dtype[i]);
        if (job.owner == rank) {
          gathered[i].resize(tensor.output.rows() * row_bytes);
          for (int r = 0; r < ranks; ++r) {
            const RowRange rows = owned_rows(tensor.output.rows(), r, ranks);
            receives.push_back({r, std::span<std::uint8_t>(gathered[i]).subspan(rows.begin * row_bytes, rows.count() * row_bytes)});
          }
        }
        sends.push_back({job.owner, slices.raw(i, job.unit)});
      }
    }
    phases.collective("merge", [&] {
      timed([&] { comm.exchange(sends, receives); });
      return std::uint64_t{0};
    });

    // 2. Each owner merges its tensor.
    std::vector<std::uint8_t> merged;
    phases.local("merge", [&] {
      timed([&] {
        mpi::run_agreed(comm, [&] {
          if (!mine) return;
          const PlannedTensor& tensor = plan.tensors[mine->tensor];
          merged = tensor.compute == ComputeType::f64 ? merge_owned<double>(tensor, mine->tensor, gathered, inputs.has_base, method, nonfinite)
                                                      : merge_owned<float>(tensor, mine->tensor, gathered, inputs.has_base, method, nonfinite);
        });
      });
      return std::uint64_t{0};
    });
    gathered.clear();

    // 3. Every rank's rows of the merged tensors back, into its output buffers.
    sends.clear();
    receives.clear();
    for (const WholeJob& job : jobs) {
      const TensorInfo& info = plan.tensors[job.tensor].output;
      const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
      if (job.owner == rank)
        for (int r = 0; r < ranks; ++r) {
          const RowRange rows = owned_rows(info.rows(), r, ranks);
          sends.push_back({r, std::span<const std::uint8_t>(merged).subspan(rows.begin * row_bytes, rows.count() * row_bytes)});
        }
      receives.push_back({job.owner, out[job.unit]});
    }
    phases.collective("merge", [&] {
      timed([&] { comm.exchange(sends, receives); });
      return std::uint64_t{0};
    });
    std::uint64_t bytes = 0;
    for (const WholeJob& job : jobs) {
      const TensorInfo& info = plan.tensors[job.tensor].output;
      bytes += owned_rows(info.rows(), 0, ranks).count() * info.row_elements() * dtype_size(info.dtype);
    }
    done += bytes;
    round_done(bytes);
  }
  return done;
}

}  // namespace mpimerge
