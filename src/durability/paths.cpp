#include "durability/paths.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mpimerge/job/job.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

void check_input(const std::string& path, const std::string& role) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw UsageError(role + " '" + path + "' does not exist");
  if (fs::is_directory(path, ec)) return;  // a Hugging Face directory: its backend checks what it holds
  // A FIFO, device or socket: the storage layer refuses it without opening it (opening a FIFO
  // blocks until a writer comes).
  if (!fs::is_regular_file(path, ec)) return;
  if (!std::ifstream(path, std::ios::binary)) throw UsageError(role + " '" + path + "' cannot be read");
}

// "merged/" and "merged" name the same output.
std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
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

// Refuses a path the merge writes (the output, the report) that would replace or delete an input:
// the input itself, a directory holding it, or an existing file inside an input's directory.
void check_not_replacing(const std::string& what, const std::string& written,
                         const std::vector<std::pair<std::string, std::string>>& inputs) {
  const std::string path = without_trailing_slashes(written);
  std::error_code ec;
  for (const auto& [role, input] : inputs) {
    if (same_file(input, path)) throw UsageError(what + " '" + written + "' is the " + role + " input");
    if (inside(input, path)) throw UsageError(what + " '" + written + "' would replace " + role + " '" + input + "'");
    const std::string root = checkpoint_root(input);
    if (fs::is_directory(root, ec) && fs::exists(path, ec) && inside(path, root))
      throw UsageError(what + " '" + written + "' would replace a file of " + role + " '" + input + "'");
  }
}

}  // namespace

void check_job_paths(const MergeJob& job) {
  std::vector<std::pair<std::string, std::string>> inputs;  // role, path
  if (job.base) inputs.emplace_back("base", *job.base);
  for (std::size_t i = 0; i < job.models.size(); ++i)
    inputs.emplace_back("model " + std::to_string(i + 1), job.models[i]);
  for (const auto& [role, path] : inputs) check_input(path, role);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    for (std::size_t j = i + 1; j < inputs.size(); ++j) {
      const auto& [role_i, path_i] = inputs[i];
      const auto& [role_j, path_j] = inputs[j];
      if (same_file(path_i, path_j))
        throw UsageError(role_j + " '" + path_j + "' is the same file as " + role_i + " '" + path_i + "'");
      if (same_file(checkpoint_root(path_i), checkpoint_root(path_j)))
        throw UsageError(role_j + " '" + path_j + "' is the same checkpoint as " + role_i + " '" + path_i + "'");
    }

  if (job.output.empty()) throw UsageError("no output given (--output)");
  const std::string output = without_trailing_slashes(job.output);
  check_not_replacing("output", job.output, inputs);
  if (job.report) check_not_replacing("report", report_path_for(job), inputs);
  std::error_code ec;
  const fs::path parent = fs::absolute(output, ec).parent_path();
  if (!fs::is_directory(parent, ec))
    throw UsageError("output directory '" + parent.string() + "' does not exist");
  if (fs::exists(job.output, ec) && !job.overwrite)
    throw UsageError("output '" + job.output + "' exists (pass --overwrite to replace it)");
}

storage::OutputSpec output_spec_for(const MergeJob& job) {
  storage::OutputSpec spec;
  spec.format = storage::output_format_for(job.output, job.output_format);
  spec.shard_bytes = job.shard_bytes;
  spec.direct_writes = job.direct_writes;
  if (spec.format == storage::Format::hf_directory) {
    const std::string& reference = job.base ? *job.base : job.models.front();
    spec.model_files_from = storage::model_directory_of(reference);
    spec.config_dtype = job.out_dtype;
  }
  return spec;
}

}  // namespace mpimerge
