#pragma once
// Fault injection for the resume tests: with MPIMERGE_FAULT="point:count:rank" in the environment,
// that rank kills itself (SIGKILL, as a node failure or a Slurm time limit would) at the point:
//   analysis      after the analysis passes, before any tensor is written
//   tensors-done  once `count` tensors are complete (written, synced and journaled)
//   commit        after everything is written, before the output is renamed into place
// One point does something else than a kill (see storage/input_file.hpp):
//   truncate-input  before its `count`-th read of the file MPIMERGE_FAULT_INPUT names, that rank
//                   truncates the file to half its size (an input cut short while a merge reads it)
// Without the variable nothing happens.
#include <cstdint>

namespace mpimerge {

void fault_point(const char* point, int rank, std::uint64_t count = 0);

// Whether MPIMERGE_FAULT names this point and rank, with a count of at most `count`: for points
// whose fault the caller carries out itself.
bool fault_armed(const char* point, int rank, std::uint64_t count = 0);

}  // namespace mpimerge
