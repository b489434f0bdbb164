#pragma once
// `mpimerge diff A B`: per tensor, max |a - b|, the relative L2 difference ||a - b|| / ||b|| and
// the cosine similarity, over every element, computed in parallel (each rank reads its rows of both
// and the statistics are reduced). Float tensors of any of the four float dtypes are compared as
// values (a float32 merge against a bfloat16 reference, say); other tensors by their bytes.
// Collective; the report is the same on every rank.
#include <string>
#include <vector>

#include "mpimerge/diff_stats.hpp"
#include "mpimerge/tensor.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

struct TensorDiffLine {
  std::string name;
  TensorDifference difference;
};

struct DiffReport {
  std::string a, b;
  std::vector<TensorDiffLine> tensors;  // the tensors both hold with one shape, in A's order
  std::vector<std::string> problems;    // names or shapes that do not match
  // Whether every tensor matched in name and shape and no max |a - b| exceeds the tolerance.
  bool within(double tolerance) const;
};

DiffReport diff_checkpoints(const std::string& a, const std::string& b, const mpi::Comm& comm);

// As `mpimerge diff` prints it; with tensor_lines false only problems and the summary.
std::string format_diff(const DiffReport& report, double tolerance, bool tensor_lines);

}  // namespace mpimerge
