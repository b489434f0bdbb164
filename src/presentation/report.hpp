#pragma once
// The JSON report of a merge: what was merged from which inputs (with checksums), how, what the
// method found, how long it took, and every output tensor's checksum. Enough to reproduce it.
#include <nlohmann/json.hpp>
#include <string>

#include "mpimerge/pipeline/summary.hpp"
#include "mpimerge/job/job.hpp"

namespace mpimerge {

nlohmann::ordered_json job_json(const MergeJob& job);
nlohmann::ordered_json summary_json(const MergeJob& job, const MergeSummary& summary);

// Called on rank 0 only.
void write_report(const std::string& path, const MergeJob& job, const MergeSummary& summary);

}  // namespace mpimerge
