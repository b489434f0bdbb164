#pragma once
// RAII over an MPI-IO file handle, the way the safetensors backend reads and writes byte ranges.
//
// Every member but path(), is_open(), size(), read_at and write_at is collective over the communicator the file was opened on: every
// rank calls it, in the same order, and a failure on any rank throws the same AgreedError on all. read_at_all / write_at_all split a transfer into pieces of at
// most kMaxPieceBytes (MPI counts are int) and agree on the number of pieces, so ranks moving very
// different amounts still make the same number of MPI calls.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "mpimerge/mpi/comm.hpp"

namespace mpimerge::mpi {

class File {
 public:
  // Largest piece of one MPI call: 1 GiB, well below INT_MAX and the 2 GiB that ROMIO/OMPIO and
  // HDF5 1.10 handle poorly.
  static constexpr std::uint64_t kMaxPieceBytes = std::uint64_t{1} << 30;

  // Opens an existing file for reading. When it fails on every rank, every rank throws the same
  // Error naming the path; when it fails on some ranks only (which a shared file system should not
  // do), the job is aborted, since the ranks that opened it could not close it alone.
  static File open_read(const Comm& comm, const std::string& path);
  // Creates (or opens, if it exists) a file for writing; its size is set with set_size.
  static File create(const Comm& comm, const std::string& path);
  // Opens an existing file for writing, without changing its size or contents.
  static File open_write(const Comm& comm, const std::string& path);

  File() = default;
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  bool is_open() const { return handle_ != MPI_FILE_NULL; }

  // Collective transfers at explicit byte offsets; a rank with nothing to move passes an empty span.
  // after_read, if given, runs on every rank after each piece is read and before the ranks agree
  // on the outcome: an exception it throws (a file found shorter than its header said) is agreed on
  // like a failed read.
  void read_at_all(std::uint64_t offset, std::span<std::uint8_t> out, const std::function<void()>& after_read = {});
  void write_at_all(std::uint64_t offset, std::span<const std::uint8_t> data);
  // Independent (not collective) transfers of this rank's bytes, for the many small pieces of a
  // batch: a failure throws Error on this rank only, so the caller must agree on the outcome of
  // the whole batch (Comm::agree) before any rank goes on to the next collective call.
  void read_at(std::uint64_t offset, std::span<std::uint8_t> out);
  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data);

  void set_size(std::uint64_t bytes);
  void preallocate(std::uint64_t bytes);
  std::uint64_t size() const;  // MPI_File_get_size (not collective)
  void sync();
  // Closes now and reports failure (the destructor closes quietly).
  void close();

 private:
  File(const Comm& comm, MPI_File handle, std::string path) : comm_(&comm), handle_(handle), path_(std::move(path)) {}
  static File open(const Comm& comm, const std::string& path, int mode, const char* what);
  // Calls piece(begin, bytes) for the pieces of a transfer of `bytes`, as many on every rank (the
  // most any rank needs; empty pieces where a rank has less).
  template <class Piece>
  void for_each_piece(std::uint64_t bytes, Piece&& piece) const;
  // After a collective call: its failure on any rank becomes the same Error on every rank, so no
  // rank goes on to the next collective call alone (a full disk fails only the ranks that write).
  void agreed(int code, const std::string& what, bool writing = false) const;

  const Comm* comm_ = nullptr;
  MPI_File handle_ = MPI_FILE_NULL;
  std::string path_;
};

}  // namespace mpimerge::mpi
