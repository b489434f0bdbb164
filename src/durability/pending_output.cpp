#include "durability/pending_output.hpp"

#include <sys/stat.h>

#include <filesystem>

#include "durability/ownership.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

bool is_directory_entry(const std::string& path, bool& exists) {
  struct stat st {};
  exists = ::lstat(path.c_str(), &st) == 0;
  return exists && S_ISDIR(st.st_mode);
}

void rename_or_throw(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error("cannot move " + from + " to " + to + ": " + ec.message());
}

// Takes a just-renamed output away again: the files of its manifest, then the output itself.
void remove_new_output(const std::string& output, const Manifest& manifest) {
  std::error_code ec;
  if (manifest.directory)
    for (const ManifestFile& f : manifest.files) fs::remove(fs::path(output) / f.name, ec);
  fs::remove(output, ec);
}

// What a failed run leaves nothing of: the partial output, its journal, the report and manifest
// not yet in place.
void remove_unfinished(const WrittenPaths& paths) {
  std::error_code ec;
  fs::remove_all(paths.partial, ec);  // a file, or a directory of shards
  fs::remove(paths.journal, ec);
  if (paths.report_temp) fs::remove(*paths.report_temp, ec);
  fs::remove(paths.manifest_temp, ec);
}

}  // namespace

PendingOutput::PendingOutput(const WrittenPaths& paths, const mpi::Comm& comm) : paths_(paths), comm_(comm) {
  // An error one rank alone meets ends every rank through MPI_Abort, with no destructor run on
  // rank 0: the aborting rank removes what this run created. (Set on every rank; it stays set while
  // an exception unwinds this object, which is when it is needed.)
  mpi::set_abort_cleanup([paths] {
    remove_unfinished(paths);
    std::error_code ec;
    fs::remove(paths.lock, ec);  // this run's, held until now (rank 0 holds it; no destructor runs)
  });
}

PendingOutput::~PendingOutput() {
  if (committed_ || !comm_.is_root()) return;
  // A merge that failed with an error every rank agreed on is not worth resuming: leave nothing.
  // (A killed run never gets here, and leaves the partial output and journal for --resume.)
  remove_unfinished(paths_);
}

void PendingOutput::commit() {
  comm_.barrier();  // every rank has closed its handles on the temporary file
  mpi::run_agreed(comm_, [&] {
    if (comm_.is_root()) commit_on_root();
  });
  committed_ = true;
  mpi::set_abort_cleanup({});
}

void PendingOutput::commit_on_root() {
  const std::string& output = paths_.output;
  // What the new output holds, taken before it moves (a rename keeps sizes and times).
  const Manifest manifest = Manifest::describe(paths_.partial, fs::path(output).filename().string());
  bool old_exists = false;
  const bool old_is_directory = is_directory_entry(output, old_exists);
  // rename() replaces a file at once, but not a directory that holds files: an old output directory
  // (checked at the start and under the lock: --overwrite, and its manifest lists all it holds) is
  // removed first, file by file as its manifest lists them. Killed right then, the new output is
  // still complete in the partial one, with its journal: --resume renames it.
  if (old_exists && (old_is_directory || manifest.directory)) remove_owned_output(output);
  rename_or_throw(paths_.partial, output);
  try {
    manifest.write(paths_.manifest_temp);
    rename_or_throw(paths_.manifest_temp, paths_.manifest);
    if (paths_.report_temp) rename_or_throw(*paths_.report_temp, *paths_.report);
  } catch (...) {
    // The output goes with its report and manifest, or not at all.
    remove_new_output(output, manifest);
    std::error_code ec;
    fs::remove(paths_.manifest, ec);
    fs::remove(paths_.manifest_temp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove(paths_.journal, ec);
  // Make the renames themselves durable: sync the directories that hold them.
  const std::string dir = fs::absolute(output).parent_path().string();
  sync_directory(dir);
  if (paths_.report) {
    const std::string report_dir = fs::absolute(*paths_.report).parent_path().string();
    if (report_dir != dir) sync_directory(report_dir);
  }
}

}  // namespace mpimerge
