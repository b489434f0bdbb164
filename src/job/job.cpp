#include "mpimerge/job/job.hpp"

namespace mpimerge {

std::string report_path_for(const MergeJob& job) {
  if (!job.report_path.empty()) return job.report_path;
  std::string out = job.output;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + ".report.json";
}

}  // namespace mpimerge
