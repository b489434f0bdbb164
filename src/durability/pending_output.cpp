#include "durability/pending_output.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

// "merged/" and "merged" name the same output.
std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

PendingOutput::PendingOutput(std::string final_path, const mpi::Comm& comm)
    : final_path_(without_trailing_slashes(std::move(final_path))), temp_path_(final_path_ + ".partial"), comm_(comm) {}

PendingOutput::~PendingOutput() {
  std::error_code ec;
  if (committed_ || !comm_.is_root()) return;
  // A merge that failed with an error every rank agreed on is not worth resuming: leave nothing.
  // (A killed run never gets here, and leaves the partial output and journal for --resume.)
  fs::remove_all(temp_path_, ec);  // a file, or a directory of shards
  fs::remove(temp_path_ + ".journal", ec);
}

void PendingOutput::commit() {
  comm_.barrier();  // every rank has closed its handles on the temporary file
  mpi::run_agreed(comm_, [&] {
    if (!comm_.is_root()) return;
    std::error_code ec;
    // rename() replaces a file at once, but not a directory that holds files: an old output
    // directory (with --overwrite) is moved aside first and removed once the new one is in place.
    const std::string aside = final_path_ + ".replaced";
    const bool replace_directory = fs::is_directory(final_path_, ec);
    if (replace_directory) {
      fs::remove_all(aside, ec);
      fs::rename(final_path_, aside, ec);
      if (ec) throw Error("cannot move the old " + final_path_ + " aside: " + ec.message());
    }
    fs::rename(temp_path_, final_path_, ec);
    if (ec) throw Error("cannot move " + temp_path_ + " to " + final_path_ + ": " + ec.message());
    if (replace_directory) fs::remove_all(aside, ec);
    fs::remove(temp_path_ + ".journal", ec);
    // Make the rename itself durable: sync the directory that holds the output.
    const fs::path dir = fs::absolute(final_path_).parent_path();
    if (FILE* d = std::fopen(dir.c_str(), "r")) {
      ::fsync(fileno(d));
      std::fclose(d);
    }
  });
  committed_ = true;
}

}  // namespace mpimerge
