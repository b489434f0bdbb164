#include "mpimerge/commands/diff.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "mpimerge/convert.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

// Elements per decoding block: bounds the doubles held next to the raw slices.
constexpr std::uint64_t kBlock = 1 << 16;

std::string padded(std::string text, std::size_t width) {
  text.resize(std::max(text.size() + 1, width), ' ');  // at least one space between columns
  return text;
}

std::vector<std::uint8_t> read_slice(storage::CheckpointReader& reader, std::size_t index, const TensorInfo& info,
                                     RowRange mine, int ranks) {
  const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
  std::vector<std::uint8_t> data(mine.count() * row_bytes);
  for_each_transfer(most_rows_per_rank(info.rows(), ranks), mine, row_bytes, [&](RowRange part) {
    reader.read_rows(index, part,
                     std::span<std::uint8_t>(data).subspan((part.begin - mine.begin) * row_bytes, part.count() * row_bytes));
  });
  return data;
}

DiffAccumulator compare_slices(const TensorInfo& ta, std::span<const std::uint8_t> a, const TensorInfo& tb,
                               std::span<const std::uint8_t> b, std::uint64_t elements) {
  DiffAccumulator acc;
  if (!is_float(ta.dtype) || !is_float(tb.dtype)) {
    acc.add_raw(a, b, dtype_size(ta.dtype));
    return acc;
  }
  std::vector<double> x(kBlock), y(kBlock);
  for (std::uint64_t offset = 0; offset < elements; offset += kBlock) {
    const std::size_t n = static_cast<std::size_t>(std::min(kBlock, elements - offset));
    decode<double>(ta.dtype, a.subspan(offset * dtype_size(ta.dtype), n * dtype_size(ta.dtype)), std::span(x).first(n));
    decode<double>(tb.dtype, b.subspan(offset * dtype_size(tb.dtype), n * dtype_size(tb.dtype)), std::span(y).first(n));
    acc.add(std::span<const double>(x).first(n), std::span<const double>(y).first(n));
  }
  return acc;
}

}  // namespace

bool DiffReport::within(double tolerance) const {
  if (!problems.empty()) return false;
  return std::all_of(tensors.begin(), tensors.end(),
                     [&](const TensorDiffLine& t) { return t.difference.max_abs <= tolerance; });
}

DiffReport diff_checkpoints(const std::string& a, const std::string& b, const mpi::Comm& comm) {
  std::unique_ptr<storage::CheckpointReader> ra, rb;
  mpi::run_agreed(comm, [&] { ra = storage::open_checkpoint(a, comm); });
  mpi::run_agreed(comm, [&] { rb = storage::open_checkpoint(b, comm); });
  DiffReport report{a, b, {}, {}};

  std::unordered_map<std::string, std::size_t> in_b;
  for (std::size_t j = 0; j < rb->tensors().size(); ++j) in_b.emplace(rb->tensors()[j].name, j);
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t i = 0; i < ra->tensors().size(); ++i) {
    const TensorInfo& ta = ra->tensors()[i];
    const auto found = in_b.find(ta.name);
    if (found == in_b.end()) {
      report.problems.push_back("tensor '" + ta.name + "' is only in " + a);
      continue;
    }
    const TensorInfo& tb = rb->tensors()[found->second];
    if (ta.shape != tb.shape)
      report.problems.push_back("tensor '" + ta.name + "' has shape " + shape_string(ta.shape) + " in " + a + " but " +
                                shape_string(tb.shape) + " in " + b);
    else if ((!is_float(ta.dtype) || !is_float(tb.dtype)) && ta.dtype != tb.dtype)
      report.problems.push_back("tensor '" + ta.name + "' is " + std::string(dtype_name(ta.dtype)) + " in " + a +
                                " but " + std::string(dtype_name(tb.dtype)) + " in " + b);
    else
      pairs.emplace_back(i, found->second);
    in_b.erase(found);
  }
  for (const TensorInfo& tb : rb->tensors())
    if (in_b.count(tb.name)) report.problems.push_back("tensor '" + tb.name + "' is only in " + b);

  // Reading is collective: an error inside it ends the job with its message.
  mpi::run_collective(comm, [&] {
    for (const auto& [i, j] : pairs) {
      const TensorInfo& ta = ra->tensors()[i];
      const TensorInfo& tb = rb->tensors()[j];
      const RowRange mine = owned_rows(ta.rows(), comm.rank(), comm.size());
      const auto da = read_slice(*ra, i, ta, mine, comm.size());
      const auto db = read_slice(*rb, j, tb, mine, comm.size());
      const DiffAccumulator local = compare_slices(ta, da, tb, db, mine.count() * ta.row_elements());
      auto sums = local.sums();
      auto counts = local.counts();
      comm.sum(std::span<double>(sums));
      comm.sum(std::span<std::int64_t>(counts));
      const double max_abs = comm.max(local.max_abs());
      report.tensors.push_back({ta.name, DiffAccumulator::from_parts(sums, counts, max_abs).finish()});
    }
  });
  return report;
}

std::string format_diff(const DiffReport& report, double tolerance, bool tensor_lines) {
  std::string out;
  std::size_t width = 6;
  for (const auto& t : report.tensors) width = std::max(width, t.name.size() + 1);
  if (tensor_lines) {
    out += padded("tensor", width) + "  " + padded("max|a-b|", 14) + padded("rel_l2", 14) + padded("cosine", 20) +
           "differing\n";
    for (const auto& t : report.tensors)
      out += padded(t.name, width) + "  " + padded(format_number(t.difference.max_abs), 14) +
             padded(format_number(t.difference.relative_l2), 14) + padded(format_number(t.difference.cosine), 20) +
             std::to_string(t.difference.differing) + " of " + std::to_string(t.difference.elements) + "\n";
  }
  for (const std::string& p : report.problems) out += "problem: " + p + "\n";
  std::size_t identical = 0, above = 0;
  const TensorDiffLine* largest = nullptr;
  for (const auto& t : report.tensors) {
    if (t.difference.differing == 0) ++identical;
    if (t.difference.max_abs > tolerance) ++above;
    if (!largest || t.difference.max_abs > largest->difference.max_abs) largest = &t;
  }
  out += "summary: " + std::to_string(report.tensors.size()) + " tensors compared, " + std::to_string(identical) +
         " identical, " + std::to_string(above) + " above tolerance " + format_number(tolerance);
  if (largest && largest->difference.max_abs > 0)
    out += "; largest max|a-b| " + format_number(largest->difference.max_abs) + " in '" + largest->name + "'";
  if (!report.problems.empty()) out += "; " + std::to_string(report.problems.size()) + " names or shapes differ";
  out += "\n";
  return out;
}

}  // namespace mpimerge
