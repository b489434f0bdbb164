#include "durability/paths.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "durability/journal.hpp"
#include "durability/output_lock.hpp"
#include "durability/ownership.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/job/job.hpp"
#include "storage/remote_reference.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

// "merged/" and "merged" name the same output.
std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

bool lexists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Refuses an input that is missing, unreadable, or no file at all (a FIFO would block the open).
void check_input(const JobInput& input) {
  struct stat st {};
  if (::stat(input.path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      const std::string reason = storage::not_local_reason(input.path);
      throw UsageError(input.role + " '" + input.path + "' does not exist" + (reason.empty() ? "" : ": " + reason));
    }
    throw UsageError(input.role + " '" + input.path + "' cannot be read: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return;  // a Hugging Face directory: its backend checks what it holds
  // A FIFO, device or socket: the storage layer refuses it, saying what it is, without opening it
  // (opening a FIFO blocks until a writer comes).
  if (!S_ISREG(st.st_mode)) return;
  const int fd = ::open(input.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw UsageError(input.role + " '" + input.path + "' cannot be read");
  ::close(fd);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

// A Hugging Face checkpoint is its directory, however it is named: the directory, its index, or
// its model.safetensors. Any other input is its own file.
std::string checkpoint_root(const std::string& path) {
  const fs::path p(without_trailing_slashes(path));
  const std::string name = p.filename().string();
  if (name == "model.safetensors.index.json" || name == "model.safetensors")
    return p.has_parent_path() ? p.parent_path().string() : ".";
  return p.string();
}

// Whether a checkpoint root is a Hugging Face directory (its config.json or shard index there), and
// not a plain directory that merely holds a file named model.safetensors beside a user's others.
bool is_hugging_face_directory(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return false;
  const fs::path dir(root);
  return fs::exists(dir / "config.json", ec) || fs::exists(dir / "model.safetensors.index.json", ec);
}

// Whether `inner` lies strictly inside the directory `outer`, after resolving links and "..".
bool inside(const std::string& inner, const std::string& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(inner, ec), b = fs::weakly_canonical(outer, ec);
  if (ec) return false;
  auto i = a.begin();
  for (auto j = b.begin(); j != b.end(); ++j, ++i)
    if (i == a.end() || *i != *j) return false;
  return i != a.end() && !i->empty();
}

bool same_path(const std::string& a, const std::string& b) {
  std::error_code ec;
  const fs::path x = fs::weakly_canonical(a, ec), y = fs::weakly_canonical(b, ec);
  return !ec && x == y;
}

// Refuses a path the merge writes (or removes) that is the working directory or holds it, that
// would replace or delete an input (the input itself, a directory holding it), that lies inside an
// input's Hugging Face directory, or that is a device, FIFO, socket or link.
void check_written(const std::string& what, const std::string& written, const std::vector<JobInput>& inputs) {
  const std::string path = without_trailing_slashes(written);
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).string();
  if (!ec && same_path(path, cwd)) throw UsageError(what + " '" + written + "' is the working directory");
  if (!ec && inside(cwd, path)) throw UsageError(what + " '" + written + "' holds the working directory");
  for (const JobInput& input : inputs) {
    if (same_file(input.path, path) || same_path(input.path, path))
      throw UsageError(what + " '" + written + "' is the " + input.role + " input");
    if (inside(input.path, path)) throw UsageError(what + " '" + written + "' would replace " + input.role + " '" + input.path + "'");
    const std::string root = checkpoint_root(input.path);
    if (is_hugging_face_directory(root) && inside(path, root))
      throw UsageError(what + " '" + written + "' would " + (lexists(path) ? "replace a file of " : "write into ") +
                       input.role + " '" + input.path + "'");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    throw UsageError(what + " '" + written + "' is " + describe_what_is_at(path));
}

// The directory a written path goes in: it exists and can be written, or it can be created (its
// nearest existing ancestor is a directory that can be written).
void check_directory_for(const std::string& what, const std::string& path, bool create) {
  std::error_code ec;
  const fs::path dir = fs::absolute(without_trailing_slashes(path), ec).parent_path();
  fs::path existing = dir;
  while (!lexists(existing.string()) && existing.has_parent_path() && existing != existing.parent_path())
    existing = existing.parent_path();
  if (existing != dir && !create) throw UsageError(what + " directory '" + dir.string() + "' does not exist");
  if (!fs::is_directory(existing, ec))
    throw UsageError(what + " directory '" + dir.string() + "' cannot be made: '" + existing.string() + "' is not a directory");
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw UsageError(what + " directory '" + existing.string() + "' cannot be written: " + std::strerror(errno));
}

}  // namespace

WrittenPaths written_paths(const MergeJob& job) {
  WrittenPaths w;
  w.output = without_trailing_slashes(job.output);
  w.partial = w.output + ".partial";
  w.journal = w.output + ".partial.journal";
  w.lock = OutputLock::path_for(w.output);
  w.manifest = Manifest::path_for(w.output);
  w.manifest_temp = w.manifest + ".partial";
  if (job.report) {
    w.report = report_path_for(job);
    w.report_temp = *w.report + ".partial";
  }
  return w;
}

void check_output_paths(const MergeJob& job) {
  const WrittenPaths w = written_paths(job);
  if (lexists(w.output)) {
    if (!job.overwrite) throw UsageError("output '" + job.output + "' exists (pass --overwrite to replace it)");
    if (const std::string why = why_not_owned(w.output); !why.empty())
      throw UsageError("output '" + job.output + "' is not one mpimerge wrote, so --overwrite leaves it alone: it is " + why);
  }
  if (w.report && lexists(*w.report)) {
    // A report of this same output (left when the output was removed) goes with it; any other
    // needs --overwrite, and only a report this program wrote is ever replaced.
    const bool is_report = !fs::is_directory(*w.report) && is_report_file(*w.report);
    const std::optional<std::string> of = is_report ? report_output(*w.report) : std::nullopt;
    if (!job.overwrite && !(of && same_path(*of, w.output)))
      throw UsageError("report '" + *w.report + "' exists (pass --overwrite to replace it)");
    if (!is_report)
      throw UsageError("report '" + *w.report + "' is not a report mpimerge wrote, so --overwrite leaves it alone: it is " +
                       describe_what_is_at(*w.report));
  }
  // Files this program keeps beside the output: any of them already there must be its own.
  const struct {
    const char* what;
    std::string path;
    bool (*ours)(const std::string&);
  } beside[] = {
      {"resume journal", w.journal, &Journal::is_journal},
      {"lock", w.lock, &OutputLock::is_lock_file},
      {"manifest", w.manifest, &is_manifest_file},
      {"manifest", w.manifest_temp, &is_manifest_file},
      {"report", w.report_temp.value_or(""), &is_report_file},
  };
  for (const auto& b : beside) {
    if (b.path.empty() || !lexists(b.path)) continue;
    if (fs::is_directory(b.path) || !b.ours(b.path))
      throw UsageError("'" + b.path + "', where mpimerge keeps the output's " + b.what + ", is " + describe_what_is_at(b.path) +
                       " that mpimerge did not write: remove it or choose another output");
  }
}

void check_job_paths(const MergeJob& job, OutputKind kind) {
  const std::vector<JobInput> inputs = job_inputs(job);
  for (const JobInput& input : inputs) check_input(input);
  // The base and the models must be distinct checkpoints (side inputs may repeat).
  std::vector<JobInput> checkpoints;
  for (const JobInput& input : inputs)
    if (input.role == "base" || input.role.rfind("model ", 0) == 0) checkpoints.push_back(input);
  for (std::size_t i = 0; i < checkpoints.size(); ++i)
    for (std::size_t j = i + 1; j < checkpoints.size(); ++j) {
      const JobInput &a = checkpoints[i], &b = checkpoints[j];
      if (same_file(a.path, b.path)) throw UsageError(b.role + " '" + b.path + "' is the same file as " + a.role + " '" + a.path + "'");
      if (same_file(checkpoint_root(a.path), checkpoint_root(b.path)))
        throw UsageError(b.role + " '" + b.path + "' is the same checkpoint as " + a.role + " '" + a.path + "'");
    }
  // Later slices' sources ("slice S source I" in job_inputs) may take layers of the same
  // checkpoints again: checked as inputs above, not for repeats.

  if (job.output.empty()) throw UsageError("no output given (--output)");
  if (kind == OutputKind::text) {
    check_written("output", job.output, inputs);
    check_directory_for("output", job.output, false);
    if (lexists(without_trailing_slashes(job.output))) {
      if (!job.overwrite) throw UsageError("output '" + job.output + "' exists (pass --overwrite to replace it)");
      if (fs::is_directory(job.output))
        throw UsageError("output '" + job.output + "' is " + describe_what_is_at(job.output) + ", not a file to replace");
    }
    return;
  }
  const WrittenPaths w = written_paths(job);
  check_written("output", job.output, inputs);
  if (w.report) check_written("report", *w.report, inputs);
  const std::pair<const char*, std::string> beside[] = {
      {"partial output", w.partial}, {"resume journal", w.journal}, {"lock file", w.lock},
      {"manifest", w.manifest},      {"manifest", w.manifest_temp},  {"partial report", w.report_temp.value_or("")}};
  for (const auto& [what, path] : beside)
    if (!path.empty()) check_written(what, path, inputs);
  if (w.report && same_path(*w.report, w.output))
    throw UsageError("report '" + *w.report + "' is the output '" + job.output + "': choose a path beside it");
  if (w.report && (inside(*w.report, w.output) || inside(*w.report, w.partial)))
    throw UsageError("report '" + *w.report + "' would be inside the output '" + job.output + "': choose a path beside it");
  check_directory_for("output", w.output, true);
  if (w.report) check_directory_for("report", *w.report, true);
  check_output_paths(job);
}

storage::OutputSpec output_spec_for(const MergeJob& job) {
  storage::OutputSpec spec;
  spec.format = storage::output_format_for(job.output, job.output_format);
  spec.shard_bytes = job.shard_bytes;
  spec.direct_writes = job.output_io == OutputIo::direct;  // automatic: see prepare_target
  if (spec.format == storage::Format::hf_directory) {
    const std::string& reference = job.model_files_from ? *job.model_files_from : job.base ? *job.base : job.models.front();
    spec.model_files_from = storage::model_directory_of(reference);
    spec.config_dtype = job.out_dtype;
    // Slices make a model of their own depth (mergekit: the sum of the slices' lengths).
    if (!job.slices.empty()) {
      std::uint64_t layers = 0;
      for (const auto& slice : job.slices) layers += slice.front().end_layer - slice.front().first_layer;
      spec.config_layers = layers;
    }
  }
  return spec;
}

}  // namespace mpimerge
