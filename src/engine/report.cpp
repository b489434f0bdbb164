#include "engine/report.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"
#include "mpimerge/version.hpp"

namespace mpimerge {

void write_report(const std::string& path, const MergeJob& job, const MergeSummary& summary) {
  nlohmann::ordered_json report;
  report["mpimerge_version"] = kVersion;
  report["method"] = {{"name", job.method.method},
                      {"density", job.method.density},
                      {"lambda", job.method.lambda},
                      {"trim_scope", to_string(job.method.trim_scope)},
                      {"disjoint_merge", to_string(job.method.disjoint_merge)},
                      {"weights", job.method.weights}};
  report["inputs"] = {{"base", job.base ? nlohmann::json(*job.base) : nlohmann::json(nullptr)},
                      {"models", job.models}};
  report["output"] = {{"path", job.output},
                      {"dtype", job.out_dtype ? std::string(dtype_name(*job.out_dtype)) : "as base"}};
  report["ranks"] = summary.ranks;
  report["tensors"] = {{"total", summary.tensors}, {"merged", summary.merged_tensors}, {"copied", summary.copied_tensors}};
  report["parameters_per_model"] = summary.parameters;
  report["analysis_passes"] = summary.analysis_passes;
  report["memory"] = {{"budget_per_rank", summary.memory_budget},
                      {"groups", summary.groups},
                      {"reads_of_the_inputs", summary.data_reads},
                      {"peak_rss_per_rank", summary.peak_rss}};
  for (const auto& f : summary.findings) report["findings"][f.key] = f.value;
  for (const auto& p : summary.phases) report["phases"][p.name] = {{"seconds", p.seconds}, {"bytes", p.bytes}};
  report["reduction_bytes_per_rank"] = summary.reduction_bytes_per_rank;
  report["seconds"] = summary.seconds;
  std::ofstream out(path);
  out << report.dump(2) << '\n';
  if (!out) throw Error("cannot write the report " + path);
}

}  // namespace mpimerge
