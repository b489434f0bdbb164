#pragma once
// Fault injection for the resume tests: with MPIMERGE_FAULT="point:count:rank" in the environment,
// that rank kills itself (SIGKILL, as a node failure or a Slurm time limit would) at the point:
//   analysis      after the analysis passes, before any tensor is written
//   tensors-done  once `count` tensors are complete (written, synced and journaled)
//   commit        after everything is written, before the output is renamed into place
// Without the variable nothing happens.
#include <cstdint>

namespace mpimerge {

void fault_point(const char* point, int rank, std::uint64_t count = 0);

}  // namespace mpimerge
