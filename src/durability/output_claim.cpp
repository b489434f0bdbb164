#include "durability/output_claim.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "durability/journal.hpp"
#include "durability/ownership.hpp"
#include "durability/paths.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

// A partial output at the output's path + ".partial" when this run starts: an interrupted run's
// (its journal beside it says so), continued with --resume or discarded with --overwrite; anything
// else there is refused.
void settle_partial(const MergeJob& job, const WrittenPaths& w) {
  struct stat st {};
  if (::lstat(w.partial.c_str(), &st) != 0) return;
  if (!Journal::is_journal(w.journal))
    throw UsageError("'" + w.partial + "' is " + describe_what_is_at(w.partial) +
                     " with no journal of mpimerge's beside it: this run did not write it; remove it or choose another output");
  if (job.resume) return;
  if (!job.overwrite)
    throw UsageError("'" + w.partial + "' holds an interrupted merge: continue it with --resume, or pass --overwrite to "
                     "start afresh");
  std::error_code ec;
  if (S_ISDIR(st.st_mode)) {
    // What an interrupted run writes there: regular files only (shards, index, config files).
    for (const auto& entry : fs::directory_iterator(w.partial, ec))
      if (!entry.is_regular_file(ec) || entry.is_symlink(ec))
        throw UsageError("'" + w.partial + "' holds '" + entry.path().filename().string() +
                         "', which mpimerge did not write: remove it yourself");
    for (const auto& entry : fs::directory_iterator(w.partial, ec)) fs::remove(entry.path(), ec);
  }
  if (!fs::remove(w.partial, ec) || ec)
    throw Error("cannot remove the interrupted merge's " + w.partial + ": " + (ec ? ec.message() : "not empty"));
  fs::remove(w.journal, ec);
}

}  // namespace

void OutputClaim::MadeDirectories::make_parents_of(const std::string& path) {
  fs::path dir = fs::absolute(path).parent_path();
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = dir; !p.empty() && !fs::exists(p, ec) && p != p.parent_path(); p = p.parent_path()) missing.push_back(p);
  std::reverse(missing.begin(), missing.end());
  for (const fs::path& p : missing) {
    if (!fs::create_directory(p, ec) && ec) throw Error("cannot make the directory " + p.string() + ": " + ec.message());
    paths.push_back(p.string());
  }
}

OutputClaim::MadeDirectories::~MadeDirectories() {
  std::error_code ec;
  for (auto p = paths.rbegin(); p != paths.rend(); ++p) fs::remove(*p, ec);  // only while empty
}

OutputClaim::OutputClaim(const MergeJob& job, const mpi::Comm& comm) {
  mpi::run_agreed(comm, [&] {
    if (!comm.is_root()) return;
    const WrittenPaths w = written_paths(job);
    made_.make_parents_of(w.output);
    if (w.report) made_.make_parents_of(*w.report);
    lock_ = std::make_unique<OutputLock>(w.output);
    // Checked before, without the lock; now no other mpimerge run can change what is there.
    check_output_paths(job);
    settle_partial(job, w);
  });
}

}  // namespace mpimerge
