#pragma once
// One writer per output: an exclusive lock on "<output>.lock", beside the output, held by rank 0
// for the whole run and removed at its end. A second merge to the same output (the same command
// started twice, a sweep point run by two array tasks) is refused at once, naming the process that
// holds it; without the lock both would write one "<output>.partial" and the survivor's report
// would describe the other's bytes.
//
// flock(2) where the file system has it (local file systems, NFS, Lustre mounted with -o flock),
// else an open file description lock (fcntl F_OFD_SETLK). A lock dies with its process, so the
// file a killed run leaves behind locks nothing: the next run takes it over.
#include <string>

namespace mpimerge {

class OutputLock {
 public:
  static std::string path_for(const std::string& output);
  // Whether the file at path is one this program wrote as a lock (or is empty).
  static bool is_lock_file(const std::string& path);

  // Takes the lock; throws UsageError naming the holder (pid and host) when another process has
  // it, Error when the lock file cannot be made. Call on one rank only.
  explicit OutputLock(const std::string& output);
  ~OutputLock();  // removes the lock file, then lets go of the lock
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  // False when the file system offers no lock at all: the run goes on unprotected (say so).
  bool held() const { return held_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool held_ = false;
};

}  // namespace mpimerge
