#include "mpimerge/commands/inspect.hpp"

#include <algorithm>
#include <memory>

#include "mpimerge/pipeline/plan.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

std::string padded(std::string text, std::size_t width) {
  text.resize(std::max(text.size() + 1, width), ' ');  // at least one space between columns
  return text;
}

}  // namespace

InspectReport inspect_checkpoints(const std::vector<std::string>& paths, const mpi::Comm& comm) {
  std::vector<std::unique_ptr<storage::CheckpointReader>> readers;
  for (const std::string& path : paths)
    mpi::run_agreed(comm, [&] { readers.push_back(storage::open_checkpoint(path, comm)); });
  InspectReport report;
  for (const auto& reader : readers) {
    CheckpointListing listing{reader->path(), reader->describe(), reader->tensors(), 0, 0, {}};
    for (const TensorInfo& t : listing.tensors) {
      listing.bytes += t.bytes();
      listing.parameters += t.elements();
      ++listing.tensors_per_dtype[std::string(dtype_name(t.dtype))];
    }
    report.checkpoints.push_back(std::move(listing));
  }
  if (readers.size() > 1) {
    InputSet set;
    for (const auto& reader : readers) set.readers.push_back(reader.get());
    report.problems = merge_problems(set);
  }
  return report;
}

std::string format_inspect(const InspectReport& report, bool tensor_lines) {
  std::string out;
  for (const CheckpointListing& c : report.checkpoints) {
    out += c.path + ": " + c.kind + "\n";
    if (tensor_lines) {
      std::size_t width = 6;
      for (const TensorInfo& t : c.tensors) width = std::max(width, t.name.size() + 1);
      out += "  " + padded("tensor", width) + "  " + padded("dtype", 7) + padded("shape", 20) + "bytes\n";
      for (const TensorInfo& t : c.tensors)
        out += "  " + padded(t.name, width) + "  " + padded(std::string(dtype_name(t.dtype)), 7) +
               padded(shape_string(t.shape), 20) + std::to_string(t.bytes()) + "\n";
    }
    out += "  total: " + std::to_string(c.tensors.size()) + " tensors, " + std::to_string(c.parameters) +
           " parameters, " + std::to_string(c.bytes) + " bytes (" + format_bytes(c.bytes) + ");";
    for (const auto& [dtype, count] : c.tensors_per_dtype) out += " " + dtype + " " + std::to_string(count);
    out += "\n";
  }
  if (report.checkpoints.size() > 1) {
    const std::string n = std::to_string(report.checkpoints.size());
    if (report.mergeable()) {
      out += "mergeable: yes, the " + n + " checkpoints hold the same " +
             std::to_string(report.checkpoints[0].tensors.size()) + " tensor names and shapes\n";
    } else {
      out += "mergeable: no, " + std::to_string(report.problems.size()) +
             (report.problems.size() == 1 ? " difference:\n" : " differences:\n");
      for (const std::string& p : report.problems) out += "  " + p + "\n";
    }
  }
  return out;
}

}  // namespace mpimerge
