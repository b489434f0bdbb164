// Fuzzes parse_job_file and merge_job_from (a mergekit-style YAML job file, `merge --config`).
// Only mpimerge::Error (a one-line UsageError naming the key) may escape: a YAML library exception
// would end the program without its message.
#include <cstdint>
#include <string>

#include "mpimerge/error.hpp"
#include "mpimerge/job/job_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const mpimerge::job::JobFile file = mpimerge::job::parse_job_file(text, "fuzz.yaml");
    const mpimerge::MergeJob job = mpimerge::job::merge_job_from(file);
    (void)job.models.size();
  } catch (const mpimerge::Error&) {
  }
  return 0;
}
