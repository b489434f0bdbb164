#include "mpimerge/job/job.hpp"

namespace mpimerge {

std::string report_path_for(const MergeJob& job) {
  if (!job.report_path.empty()) return job.report_path;
  std::string out = job.output;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + ".report.json";
}

std::string sixteen_bit_compute_note(DType dtype) {
  const std::string name = dtype == DType::bf16 ? "bfloat16" : "float16";
  return "dtype " + name + ": mergekit computes in " + name + ", rounding after every operation as torch's kernels "
         "do on its device; mpimerge computes in float32 and rounds once, to " + name + " (the default out_dtype)";
}

std::vector<JobInput> job_inputs(const MergeJob& job) {
  std::vector<JobInput> out;
  if (job.base) out.push_back({"base", *job.base});
  for (std::size_t m = 0; m < job.models.size(); ++m) out.push_back({"model " + std::to_string(m + 1), job.models[m]});
  for (std::size_t s = 1; s < job.slices.size(); ++s)  // slice 0's sources are the base and models
    for (std::size_t i = 0; i < job.slices[s].size(); ++i)
      out.push_back({"slice " + std::to_string(s + 1) + " source " + std::to_string(i + 1), job.slices[s][i].path});
  for (const auto& [name, paths] : job.side_inputs)
    for (std::size_t m = 0; m < paths.size(); ++m) out.push_back({name + " " + std::to_string(m + 1), paths[m]});
  if (!job.job_file.empty()) out.push_back({"job file", job.job_file});
  return out;
}

}  // namespace mpimerge
