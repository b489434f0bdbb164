#include "presentation/report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mpimerge/checksum.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/version.hpp"

namespace mpimerge {

namespace {

nlohmann::ordered_json scalar_json(const ParameterScalar& v) {
  switch (v.kind) {
    case ParameterScalar::Kind::number:
      return v.text.empty() ? nlohmann::ordered_json(v.number) : nlohmann::ordered_json(v.to_string());
    case ParameterScalar::Kind::boolean: return v.boolean;
    case ParameterScalar::Kind::text: return v.text;
  }
  return nullptr;
}

}  // namespace

nlohmann::ordered_json parameters_json(const std::vector<UsedParameter>& used) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& u : used) j[u.name] = u.value ? scalar_json(*u.value) : nlohmann::ordered_json(u.text);
  return j;
}

nlohmann::ordered_json job_json(const MergeJob& job) {
  nlohmann::ordered_json j;
  // The method as asked for and its parameters as given (job files, flags, a sweep point): part of
  // what a resumed merge must match. What the method used, defaults included, is the report's
  // top-level "method".
  j["method"] = {{"name", job.method.method}};
  for (const auto& [name, setting] : job.method.params.global()) j["method"]["given"][name] = setting.to_string();
  for (std::size_t m = 0; m < job.method.params.models_with_settings(); ++m)
    for (const auto& [name, setting] : job.method.params.model(m))
      j["method"]["given_per_model"][std::to_string(m + 1)][name] = setting.to_string();
  if (job.method.mergekit_rules) j["method"]["rules"] = "mergekit";
  for (const auto& [name, paths] : job.side_inputs)
    if (!paths.empty()) j[name] = paths;
  if (job.compute_in_float64) j["compute_dtype"] = "float64";
  j["base"] = job.base ? nlohmann::json(*job.base) : nlohmann::json(nullptr);
  j["models"] = job.models;
  // A job file's slices: per slice, each input's source and layer range (the base's first).
  for (const auto& slice : job.slices) {
    nlohmann::ordered_json sources = nlohmann::ordered_json::array();
    for (const SliceSource& s : slice)
      sources.push_back(nlohmann::ordered_json{{"model", s.path}, {"layer_range", {s.first_layer, s.end_layer}}});
    j["slices"].push_back(sources);
  }
  // The tokenizer the embedding rows are aligned to: part of what a resumed merge must match.
  if (!job.tokenizer.source.empty()) {
    j["tokenizer"] = {{"source", job.tokenizer.source}};
    if (job.tokenizer.pad_to_multiple_of > 0) j["tokenizer"]["pad_to_multiple_of"] = job.tokenizer.pad_to_multiple_of;
    for (const auto& [token, source] : job.tokenizer.tokens) {
      static const char* const kinds[] = {"zero", "model", "model_token"};
      nlohmann::ordered_json entry = {{"kind", kinds[static_cast<int>(source.kind)]}};
      if (!source.model.empty()) entry["model"] = source.model;
      if (source.token_id) entry["token_id"] = *source.token_id;
      if (!source.token.empty()) entry["token"] = source.token;
      entry["force"] = source.force;
      j["tokenizer"]["tokens"][token] = std::move(entry);
    }
  }
  j["output"] = job.output;
  j["output_format"] = job.output_format.empty() ? "from the path" : job.output_format;
  j["out_dtype"] = job.out_dtype ? std::string(dtype_name(*job.out_dtype)) : "as the base";
  j["memory_budget"] = job.memory_budget ? nlohmann::json(*job.memory_budget) : nlohmann::json("default");
  return j;
}

nlohmann::ordered_json summary_json(const MergeJob& job, const MergeSummary& summary) {
  nlohmann::ordered_json report;
  report["mpimerge_version"] = kVersion;
  report["command"] = job.command_line;
  report["method"] = {{"name", summary.method}, {"parameters", parameters_json(summary.method_parameters)}};
  report["job"] = job_json(job);
  for (const auto& input : summary.inputs)
    report["inputs"].push_back({{"path", input.path}, {"checksum", checksum_hex(input.checksum)}});
  report["output"] = {{"path", summary.output}, {"tensors", summary.tensors},
                      {"merged", summary.merged_tensors}, {"copied", summary.copied_tensors},
                      {"io", summary.output_io}, {"io_reason", summary.output_io_reason}};
  if (summary.resumed_tensors) report["resumed"] = {{"tensors_kept_from_the_interrupted_run", summary.resumed_tensors}};
  report["ranks"] = summary.ranks;
  report["parameters_per_model"] = summary.parameters;
  report["analysis_passes"] = summary.analysis_passes;
  for (const auto& f : summary.findings) report["findings"][f.key] = f.value;
  for (const auto& p : summary.phases)
    report["phases"][p.name] = {{"seconds", p.seconds}, {"bytes", p.bytes}, {"seconds_per_rank", p.seconds_per_rank}};
  report["bytes_read"] = summary.bytes_read;
  report["bytes_written"] = summary.bytes_written;
  report["memory"] = {{"budget_per_rank", summary.memory_budget},
                      {"budget_source", summary.memory_budget_source},
                      {"working_set_per_rank", summary.working_set},
                      {"working_set_reason", summary.working_set_reason},
                      {"groups", summary.groups},
                      {"reads_of_the_inputs", summary.data_reads},
                      {"method_memory_per_rank", summary.method_memory},
                      {"idle_output_memory_per_rank", summary.idle_output_memory},
                      {"analysis_runs", summary.analysis_runs},
                      {"peak_rss_per_rank", summary.peak_rss}};
  for (const auto& node : summary.nodes)
    report["nodes"].push_back({{"host", node.host}, {"ranks", node.ranks}, {"budget_per_rank_from_its_share", node.budget_per_rank}});
  report["mpi"] = {{"library", summary.mpi_library}, {"settings_given", nlohmann::ordered_json::object()}};
  for (const auto& [name, value] : summary.mpi_settings) report["mpi"]["settings_given"][name] = value;
  report["reduction_bytes_per_rank"] = summary.reduction_bytes_per_rank;
  report["seconds"] = summary.seconds;
  // A sorted map, not the report's ordered one: inserting into an ordered_json object searches its
  // keys one by one, quadratic in the tensors (100k tensors took minutes here).
  nlohmann::json checksums = nlohmann::json::object();
  for (const auto& [name, checksum] : summary.output_checksums) checksums[name] = checksum_hex(checksum);
  report["checksums"] = std::move(checksums);
  return report;
}

void write_report(const std::string& path, const MergeJob& job, const MergeSummary& summary) {
  // Written whole and synced before the output is renamed into place: a disk that fills up or a
  // directory that refuses it fails the merge, not a report cut short beside a finished output.
  const std::string text = summary_json(job, summary).dump(2) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write the report " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  const int saved = errno;
  const bool closed = ::close(fd) == 0;
  if (!ok || !closed) throw Error("cannot write the report " + path + ": " + std::strerror(ok ? errno : saved));
}

}  // namespace mpimerge
