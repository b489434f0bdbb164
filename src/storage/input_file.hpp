#pragma once
// What every backend does with a file it reads, before and while it reads it:
// - refuse anything but a regular file before opening it: opening a FIFO blocks until a writer
//   comes (forever, for a merge), a device reads without end, a socket cannot be opened at all;
// - after each read, check that the file still holds the bytes its header or catalog promised.
//   MPI-IO and HDF5 both return zeros for bytes past the end of a file (OMPIO's collective reads
//   even report the full count), so a file truncated while it is read would otherwise merge as zeros.
#include <cstdint>
#include <string>

namespace mpimerge::storage {

// Throws InputError "PATH: a FIFO (named pipe), not a regular file ..." unless path names a
// regular file (links followed). Opens nothing. A missing path is an error too.
void require_regular_file(const std::string& path);
// The same, with a directory (a Hugging Face checkpoint) allowed as well.
void require_regular_file_or_directory(const std::string& path);

// The size of an input as its header or catalog was checked against, held against the file while
// it is read. Per rank: holds its own descriptor on the file (the inode the readers' handles read).
class PinnedSize {
 public:
  // Throws InputError when the file cannot be opened, is not a regular file, or is already
  // shorter than `size`.
  PinnedSize(std::string path, std::uint64_t size);
  ~PinnedSize();
  PinnedSize(PinnedSize&& other) noexcept;
  PinnedSize& operator=(PinnedSize&& other) noexcept;
  PinnedSize(const PinnedSize&) = delete;
  PinnedSize& operator=(const PinnedSize&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }

  // Call before each read of the file on this rank. With MPIMERGE_FAULT="truncate-input:N:R" and
  // MPIMERGE_FAULT_INPUT=PATH (tests only, see durability/fault.hpp), rank R truncates PATH to
  // half its size before its N-th read of it.
  void before_read(int rank);
  // Call after each read: throws InputError when the file is now shorter than size(), since the
  // bytes just read may then be zeros that the file never held.
  void check() const;

 private:
  std::string path_;
  std::uint64_t size_ = 0;
  int fd_ = -1;
  std::uint64_t reads_ = 0;
};

}  // namespace mpimerge::storage
