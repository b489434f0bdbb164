#pragma once
// The inputs of a merge, pinned: the identity (durability/file_identity.hpp) of every file each
// input reads (the file itself; a Hugging Face directory's index and every shard) as it was when
// the input was opened, checked again before the output is renamed into place. A file that was
// truncated, rewritten, replaced or touched while the merge read it fails the merge, which then
// leaves nothing: the output would mix bytes of two versions of the file, or read zeros past its
// new end.
#include <map>
#include <string>
#include <vector>

#include "durability/file_identity.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

struct PinnedFile {
  std::string role;   // "base", "model 2", "fisher 1": as job_inputs() names them
  std::string input;  // the input's path as given
  std::string file;   // the file read: the input itself, or a file of its directory
  FileIdentity identity;
};

class InputPins {
 public:
  // Before an input is opened: the identities of the files it may read (the file; every regular
  // file of a directory, or of an index's directory).
  using Snapshot = std::map<std::string, FileIdentity>;
  static Snapshot before_open(const std::string& path);

  // This rank, right after the reader opened the input: pins every file it reads. Throws
  // InputError when one changed between before_open and now (it was replaced while being opened).
  void pin(const std::string& role, const storage::CheckpointReader& reader, const Snapshot& before);

  // Collective and agreed: throws InputError, on every rank, naming the input and the file when
  // any rank finds a pinned file changed.
  void check(const mpi::Comm& comm) const;

  const std::vector<PinnedFile>& files() const { return files_; }

 private:
  std::vector<PinnedFile> files_;
};

}  // namespace mpimerge
