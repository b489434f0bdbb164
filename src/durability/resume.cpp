#include "durability/resume.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "durability/journal.hpp"
#include "presentation/report.hpp"
#include "mpimerge/checksum.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

// Every file the inputs read, with its identity as pinned when it was opened (rank 0's).
nlohmann::ordered_json input_identities(const InputPins& pins) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const PinnedFile& f : pins.files())
    out.push_back({{"role", f.role}, {"input", f.input}, {"file", f.file}, {"identity", f.identity.to_json()}});
  return out;
}

// Why the journal's inputs are not these: the first file that changed, appeared or went since the
// interrupted run, or "" when the inputs are the same (then the method or output differs).
std::string changed_input(const nlohmann::json& recorded, const InputPins& pins) {
  if (!recorded.is_array()) return "";
  auto name = [](const std::string& role, const std::string& input, const std::string& file) {
    std::string text = role + " '" + input + "'";
    if (fs::path(file).lexically_normal() != fs::path(input).lexically_normal())
      text += ": " + fs::path(file).filename().string();
    return text;
  };
  for (const auto& entry : recorded) {
    const std::string role = entry.value("role", ""), file = entry.value("file", ""), input = entry.value("input", "");
    const PinnedFile* now = nullptr;
    for (const PinnedFile& f : pins.files())
      if (f.role == role && f.file == file) now = &f;
    if (!now) return name(role, input, file) + " is no longer read";
    const FileIdentity was = FileIdentity::from_json(entry.at("identity"));
    if (!was.same_across_runs(now->identity))
      return name(role, input, file) + " changed since the interrupted run (" +
             describe_change(was, now->identity, true) + ")";
  }
  for (const PinnedFile& f : pins.files()) {
    bool known = false;
    for (const auto& entry : recorded) known = known || (entry.value("role", "") == f.role && entry.value("file", "") == f.file);
    if (!known) return name(f.role, f.input, f.file) + " was not read by the interrupted run";
  }
  return "";
}

// Checksums of the given tensors as the partial output holds them. Collective reads.
std::vector<std::uint64_t> checksums_in(const std::string& path, const std::vector<std::string>& names,
                                        const mpi::Comm& comm) {
  std::unique_ptr<storage::CheckpointReader> reader;
  mpi::run_agreed(comm, [&] { reader = storage::open_checkpoint(path, comm); });
  std::vector<std::uint64_t> partial(names.size(), 0);
  std::vector<std::uint8_t> buffer;
  const auto& tensors = reader->tensors();
  mpi::run_collective(comm, [&] {
    for (std::size_t n = 0; n < names.size(); ++n) {
      std::size_t t = 0;
      while (t < tensors.size() && tensors[t].name != names[n]) ++t;
      if (t == tensors.size()) throw InputError(path + ": the partial output lacks tensor '" + names[n] + "'");
      for_each_owned_chunk(*reader, t, comm.rank(), comm.size(), buffer,
                           [&](RowRange part, std::span<const std::uint8_t> data, std::uint64_t row_bytes) {
                             partial[n] += partial_checksum(data, part.begin, row_bytes);
                           }, kChecksumChunkBytes);
    }
  });
  comm.sum(std::span<std::uint64_t>(partial));
  for (std::size_t n = 0; n < names.size(); ++n) {
    std::size_t t = 0;
    while (tensors[t].name != names[n]) ++t;
    partial[n] = finish_checksum(partial[n], tensors[t]);
  }
  return partial;
}

}  // namespace

nlohmann::ordered_json resume_inputs(const InputPins& pins) { return input_identities(pins); }

std::string merge_fingerprint(const MergeJob& job, const storage::OutputSpec& output, const InputPins& pins,
                              const MergePlan& plan, const mpi::Comm& comm) {
  std::string text;
  if (comm.is_root()) {
    nlohmann::ordered_json j;
    const nlohmann::ordered_json asked = job_json(job);
    j["method"] = asked["method"];
    if (asked.contains("tokenizer")) j["tokenizer"] = asked["tokenizer"];
    j["out_dtype"] = job.out_dtype ? std::string(dtype_name(*job.out_dtype)) : "";
    j["output"] = {{"format", static_cast<int>(output.format)}, {"shard_bytes", output.shard_bytes}};
    // Each file's identity without its device number (see FileIdentity::to_json): a resume may
    // run on other nodes, which mount the same file system under another device number.
    j["inputs"] = input_identities(pins);
    // Slices: which layers of which checkpoints each input is (the files are pinned above).
    for (const auto& slice : job.slices)
      for (const SliceSource& source : slice)
        j["slices"].push_back({source.path, source.first_layer, source.end_layer});
    for (const auto& t : plan.tensors)
      j["tensors"].push_back({t.output.name, std::string(dtype_name(t.output.dtype)), t.output.shape});
    text = checksum_hex(text_checksum(j.dump()));
  }
  comm.broadcast(text);
  return text;
}

std::optional<ResumePoint> find_resume_point(const MergeJob& job, const std::string& fingerprint,
                                             const InputPins& pins, const MergePlan& plan, const mpi::Comm& comm,
                                             const Log& log) {
  const std::string journal_path = Journal::path_for(job.output);
  std::optional<JournalContents> journal;
  bool partial_exists = false;
  mpi::run_agreed(comm, [&] {
    journal = Journal::load(journal_path, comm);
    std::error_code ec;
    std::string partial = job.output;
    while (partial.size() > 1 && partial.back() == '/') partial.pop_back();
    partial_exists = fs::exists(partial + ".partial", ec);
    if (!journal || journal->fingerprint == fingerprint || !comm.is_root()) return;
    // Rank 0 says why (its pins made the fingerprint); the other ranks agree on its message.
    if (const std::string changed = changed_input(journal->inputs, pins); !changed.empty())
      throw UsageError("--resume: " + changed + "; the interrupted merge read the old version: restore it, or pass "
                       "--overwrite instead of --resume to start afresh");
    throw UsageError("--resume: " + journal_path + " belongs to another merge (other inputs, method, parameters or "
                     "output format); pass --overwrite instead of --resume to start afresh");
  });
  if (!journal || !partial_exists) {
    log.line("resume  nothing to resume at " + job.output + ".partial: starting afresh");
    return std::nullopt;
  }
  ResumePoint point;
  point.finished.assign(plan.tensors.size(), false);
  point.checksums.assign(plan.tensors.size(), std::nullopt);
  point.method_state = journal->method_state;
  std::vector<std::string> names;
  for (const auto& [name, checksum] : journal->done) names.push_back(name);
  std::string partial = job.output;
  while (partial.size() > 1 && partial.back() == '/') partial.pop_back();
  const auto found = names.empty() ? std::vector<std::uint64_t>{} : checksums_in(partial + ".partial", names, comm);
  std::size_t redo = 0;
  for (std::size_t n = 0; n < names.size(); ++n) {
    if (found[n] != journal->done.at(names[n])) {
      ++redo;
      continue;
    }
    for (std::size_t t = 0; t < plan.tensors.size(); ++t)
      if (plan.tensors[t].output.name == names[n]) {
        point.finished[t] = true;
        point.checksums[t] = found[n];
        ++point.count;
      }
  }
  log.line("resume  " + std::to_string(point.count) + " of " + std::to_string(plan.tensors.size()) +
           " tensors were finished" + (redo ? " (" + std::to_string(redo) + " did not match their journal: redone)" : "") +
           (point.method_state ? "; the analysis is restored" : ""));
  return point;
}

}  // namespace mpimerge
