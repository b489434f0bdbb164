#pragma once
// The JSON report of a merge: what was merged, how, what the method found, and how long it took.
#include <string>

#include "mpimerge/engine/engine.hpp"
#include "mpimerge/engine/job.hpp"

namespace mpimerge {

// Called on rank 0 only.
void write_report(const std::string& path, const MergeJob& job, const MergeSummary& summary);

}  // namespace mpimerge
