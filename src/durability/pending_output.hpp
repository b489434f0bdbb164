#pragma once
#include <string>

#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {

// The output (a file, or a Hugging Face directory) while it is written: `<output>.partial` beside
// the final path, so the rename that completes it stays on one file system. Rank 0 renames it into place on commit(); if the
// merge fails first, rank 0 removes it.
class PendingOutput {
 public:
  PendingOutput(std::string final_path, const mpi::Comm& comm);
  ~PendingOutput();
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;

  const std::string& path() const { return temp_path_; }
  // Collective, after the writer has finished on every rank.
  void commit();

 private:
  std::string final_path_, temp_path_;
  const mpi::Comm& comm_;
  bool committed_ = false;
};

}  // namespace mpimerge
