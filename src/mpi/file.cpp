#include "mpimerge/mpi/file.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "mpimerge/error.hpp"
#include "mpimerge/util/disk_space.hpp"

namespace mpimerge::mpi {
namespace {

std::string error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

void check(int code, const std::string& what) {
  if (code != MPI_SUCCESS) throw Error(what + ": " + error_text(code));
}

}  // namespace

File File::open(const Comm& comm, const std::string& path, int mode, const char* what) {
  MPI_File handle = MPI_FILE_NULL;
  const int code = MPI_File_open(comm.native(), path.c_str(), mode, MPI_INFO_NULL, &handle);
  const bool opened = code == MPI_SUCCESS;
  if (comm.all(opened)) {
    // File handles report errors by return code (MPI's default for files); keep it explicit.
    MPI_File_set_errhandler(handle, MPI_ERRORS_RETURN);
    return File(comm, handle, path);
  }
  if (!comm.all(!opened))  // some ranks hold an open handle that only a collective close can release
    comm.abort(path + ": " + what + " failed on some ranks only" + (opened ? "" : ": " + error_text(code)));
  throw Error(path + ": " + what + " failed: " + error_text(code));
}

File File::open_read(const Comm& comm, const std::string& path) {
  return open(comm, path, MPI_MODE_RDONLY, "cannot open for reading");
}

File File::open_write(const Comm& comm, const std::string& path) {
  return open(comm, path, MPI_MODE_WRONLY, "cannot open for writing");
}

File File::create(const Comm& comm, const std::string& path) {
  return open(comm, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, "cannot create");
}

File::~File() {
  if (handle_ != MPI_FILE_NULL) MPI_File_close(&handle_);
}

File::File(File&& other) noexcept
    : comm_(other.comm_), handle_(std::exchange(other.handle_, MPI_FILE_NULL)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (handle_ != MPI_FILE_NULL) MPI_File_close(&handle_);
    comm_ = other.comm_;
    handle_ = std::exchange(other.handle_, MPI_FILE_NULL);
    path_ = std::move(other.path_);
  }
  return *this;
}

void File::agreed(int code, const std::string& what, bool writing) const {
  std::exception_ptr error;
  if (code != MPI_SUCCESS)
    error = std::make_exception_ptr(Error(what + ": " + error_text(code) + (writing ? disk_full_note(path_) : "")));
  comm_->agree(error);
}

template <class Piece>
void File::for_each_piece(std::uint64_t bytes, Piece&& piece) const {
  std::uint64_t pieces = (bytes + kMaxPieceBytes - 1) / kMaxPieceBytes;
  // One reduction per transfer keeps the call counts equal; transfers are per tensor, so this is
  // a few hundred small allreduces per checkpoint.
  comm_->max(std::span<std::uint64_t>(&pieces, 1));
  pieces = std::max<std::uint64_t>(pieces, 1);
  for (std::uint64_t p = 0; p < pieces; ++p) {
    const std::uint64_t begin = std::min<std::uint64_t>(bytes, p * kMaxPieceBytes);
    piece(begin, std::min<std::uint64_t>(bytes - begin, kMaxPieceBytes));
  }
}

void File::read_at_all(std::uint64_t offset, std::span<std::uint8_t> out, const std::function<void()>& after_read) {
  for_each_piece(out.size(), [&](std::uint64_t begin, std::uint64_t n) {
    MPI_Status status;
    const int code = MPI_File_read_at_all(handle_, static_cast<MPI_Offset>(offset + begin), out.data() + begin,
                                          static_cast<int>(n), MPI_BYTE, &status);
    // Where the MPI library reports the count (OMPIO's collective reads report the requested one),
    // a short read means the file shrank after its header was checked.
    int got = 0;
    if (code == MPI_SUCCESS) MPI_Get_count(&status, MPI_BYTE, &got);
    std::exception_ptr error;
    if (code != MPI_SUCCESS)
      error = std::make_exception_ptr(Error(path_ + ": cannot read " + std::to_string(n) + " bytes at offset " +
                                            std::to_string(offset + begin) + ": " + error_text(code)));
    else if (static_cast<std::uint64_t>(got) != n)
      error = std::make_exception_ptr(Error(path_ + ": short read: " + std::to_string(got) + " of " + std::to_string(n) +
                                            " bytes at offset " + std::to_string(offset + begin) +
                                            " (was the file truncated?)"));
    if (!error && after_read) {
      try {
        after_read();
      } catch (...) {
        error = std::current_exception();
      }
    }
    comm_->agree(error);  // one agreement per call, as for writes
  });
}

void File::read_at(std::uint64_t offset, std::span<std::uint8_t> out) {
  for (std::uint64_t begin = 0; begin < out.size(); begin += kMaxPieceBytes) {
    const std::uint64_t n = std::min<std::uint64_t>(out.size() - begin, kMaxPieceBytes);
    MPI_Status status;
    const int code = MPI_File_read_at(handle_, static_cast<MPI_Offset>(offset + begin), out.data() + begin,
                                      static_cast<int>(n), MPI_BYTE, &status);
    if (code != MPI_SUCCESS)
      throw Error(path_ + ": cannot read " + std::to_string(n) + " bytes at offset " + std::to_string(offset + begin) +
                  ": " + error_text(code));
    int got = 0;
    MPI_Get_count(&status, MPI_BYTE, &got);
    if (static_cast<std::uint64_t>(got) != n)
      throw Error(path_ + ": short read: " + std::to_string(got) + " of " + std::to_string(n) + " bytes at offset " +
                  std::to_string(offset + begin) + " (was the file truncated?)");
  }
}

void File::write_at(std::uint64_t offset, std::span<const std::uint8_t> data) {
  for (std::uint64_t begin = 0; begin < data.size(); begin += kMaxPieceBytes) {
    const std::uint64_t n = std::min<std::uint64_t>(data.size() - begin, kMaxPieceBytes);
    MPI_Status status;
    const int code = MPI_File_write_at(handle_, static_cast<MPI_Offset>(offset + begin), data.data() + begin,
                                       static_cast<int>(n), MPI_BYTE, &status);
    if (code != MPI_SUCCESS)
      throw Error(path_ + ": cannot write " + std::to_string(n) + " bytes at offset " + std::to_string(offset + begin) +
                  ": " + error_text(code) + disk_full_note(path_));
    // OMPIO reports a write the file system cut short (a full disk) as success with a short count.
    int wrote = 0;
    MPI_Get_count(&status, MPI_BYTE, &wrote);
    if (static_cast<std::uint64_t>(wrote) != n)
      throw Error(path_ + ": cannot write " + std::to_string(n) + " bytes at offset " + std::to_string(offset + begin) +
                  ": only " + std::to_string(wrote) + " written" + disk_full_note(path_));
  }
}

void File::write_at_all(std::uint64_t offset, std::span<const std::uint8_t> data) {
  for_each_piece(data.size(), [&](std::uint64_t begin, std::uint64_t n) {
    MPI_Status status;
    const int code = MPI_File_write_at_all(handle_, static_cast<MPI_Offset>(offset + begin), data.data() + begin,
                                           static_cast<int>(n), MPI_BYTE, &status);
    agreed(code, path_ + ": cannot write " + std::to_string(n) + " bytes at offset " + std::to_string(offset + begin), true);
  });
}

void File::set_size(std::uint64_t bytes) {
  agreed(MPI_File_set_size(handle_, static_cast<MPI_Offset>(bytes)), path_ + ": cannot set the size", true);
}

void File::preallocate(std::uint64_t bytes) {
  agreed(MPI_File_preallocate(handle_, static_cast<MPI_Offset>(bytes)), path_ + ": cannot preallocate", true);
}

std::uint64_t File::size() const {
  MPI_Offset bytes = 0;
  check(MPI_File_get_size(handle_, &bytes), path_ + ": cannot get the size");
  return static_cast<std::uint64_t>(bytes);
}

void File::sync() { agreed(MPI_File_sync(handle_), path_ + ": cannot sync", true); }

void File::close() {
  if (handle_ == MPI_FILE_NULL) return;
  agreed(MPI_File_close(&handle_), path_ + ": cannot close", true);
}

}  // namespace mpimerge::mpi
