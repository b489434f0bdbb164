#pragma once
// Fault injection for the resume and bad-input tests. With MPIMERGE_FAULT="point:count:rank" in the
// environment, that rank kills itself (SIGKILL, as a node failure or a Slurm time limit would) at
// the point; with "point:count:rank:run:COMMAND" it runs COMMAND (/bin/sh -c) there instead and
// goes on once the command has ended: the tests use it to change an input between its open and the
// rename, or to hold a merge at a point (a command that waits on a FIFO) while another one starts,
// deterministically and without sleeps. With "point:count:rank:throw" that rank alone throws an
// error, which no other rank can agree on: every rank ends through MPI_Abort. The points:
//   locked        the output is claimed (its lock held), nothing written yet
//   analysis      after the analysis passes, before any tensor is written
//   tensors-done  once `count` tensors are complete (written, synced and journaled)
//   write         inside the collective write phase, after a flush, once `count` tensors were
//                 journaled before it (where an error of one rank ends every rank: the `throw` test)
//   commit        after everything is written, before the inputs are checked and the output renamed
// A point fires on its rank at the first call whose count reaches `count`, once per process.
// With "point:count:rank:stop" the rank stops itself (SIGSTOP) instead: frozen at a known point
// until the test kills it with its node (tests/slurm/nodes_loss_test.sh).
// One point does something else than a kill (see storage/input_file.hpp):
//   truncate-input  before its `count`-th read of the file MPIMERGE_FAULT_INPUT names, that rank
//                   truncates the file to half its size (an input cut short while a merge reads it)
// And one the liveness watch checks (mpi/liveness.cpp):
//   watch-unreachable  that rank does not reach rank 0's watch, as behind a firewall
// Without the variable nothing happens.
#include <cstdint>

namespace mpimerge {

void fault_point(const char* point, int rank, std::uint64_t count = 0);

// Whether MPIMERGE_FAULT names this point and rank, with a count of at most `count`: for points
// whose fault the caller carries out itself.
bool fault_armed(const char* point, int rank, std::uint64_t count = 0);

}  // namespace mpimerge
