#pragma once
// Fault injection for the resume and bad-input tests. With MPIMERGE_FAULT="point:count:rank" in the
// environment, that rank kills itself (SIGKILL, as a node failure or a Slurm time limit would) at
// the point; with MPIMERGE_FAULT="point:count:rank:run:COMMAND" it runs COMMAND (/bin/sh -c) there
// instead and goes on once the command has ended: the tests use it to change an input between its
// open and the rename, or to hold a merge at a point (a command that waits on a FIFO) while another
// one starts, deterministically and without sleeps. The points:
//   locked        the output is claimed (its lock held), nothing written yet
//   analysis      after the analysis passes, before any tensor is written
//   tensors-done  once `count` tensors are complete (written, synced and journaled)
//   commit        after everything is written, before the inputs are checked and the output renamed
// A point fires on its rank at the first call whose count reaches `count`, once per process.
// Without the variable nothing happens.
#include <cstdint>

namespace mpimerge {

void fault_point(const char* point, int rank, std::uint64_t count = 0);

}  // namespace mpimerge
