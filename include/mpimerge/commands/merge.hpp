#pragma once
// `mpimerge merge`: the one place that wires inputs -> plan -> method -> output for one job. Every
// rank calls run_merge together; an error on any rank becomes the same AgreedError on all of them.
#include "mpimerge/job/job.hpp"
#include "mpimerge/pipeline/summary.hpp"
#include "mpimerge/presentation/log.hpp"

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

MergeSummary run_merge(const MergeJob& job, const mpi::Comm& comm, const Log& log);

}  // namespace mpimerge
