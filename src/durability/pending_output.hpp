#pragma once
#include <optional>
#include <string>

#include "durability/paths.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

// The output (a file, or a Hugging Face directory) while it is written: `<output>.partial` beside
// the final path, so the rename that completes it stays on one file system, and its report, written
// under `<report>.partial` before the output is renamed. On commit() rank 0 renames the output into
// place (an earlier output, with --overwrite, replaced only as its manifest allows), writes the new
// manifest and renames the report: a run leaves the output with its report and manifest, or
// nothing. If the merge fails first, rank 0 removes the partial output, its journal and the
// partial report. (A killed run leaves the partial output and journal for --resume.)
class PendingOutput {
 public:
  PendingOutput(const WrittenPaths& paths, const mpi::Comm& comm);
  ~PendingOutput();
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;

  const std::string& path() const { return paths_.partial; }
  // Where the report goes until commit() (rank 0 writes it there); nullopt without a report.
  const std::optional<std::string>& report_path() const { return paths_.report_temp; }
  // Collective, after the writer has finished on every rank (and the report is written).
  void commit();

 private:
  void commit_on_root();
  WrittenPaths paths_;
  const mpi::Comm& comm_;
  bool committed_ = false;
};

}  // namespace mpimerge
