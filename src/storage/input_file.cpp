#include "storage/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "durability/fault.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge::storage {
namespace {

// What a file that is not a regular file is, for the error line.
std::string kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

std::string not_regular(const std::string& path, mode_t mode) {
  return path + ": " + kind_of(mode) + ", not a regular file (mpimerge reads checkpoints only from regular files)";
}

void require(const std::string& path, bool directory_allowed) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw InputError(path + ": cannot be read: " + std::strerror(errno));
  if (S_ISREG(st.st_mode) || (directory_allowed && S_ISDIR(st.st_mode))) return;
  throw InputError(not_regular(path, st.st_mode));
}

}  // namespace

void require_regular_file(const std::string& path) { require(path, false); }
void require_regular_file_or_directory(const std::string& path) { require(path, true); }

PinnedSize::PinnedSize(std::string path, std::uint64_t size) : path_(std::move(path)), size_(size) {
  // O_NONBLOCK: should the path have become a FIFO since it was checked, the open returns at once
  // and fstat below refuses it.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw InputError(path_ + ": cannot be read: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw InputError(not_regular(path_, st.st_mode));
  }
  check();
}

PinnedSize::~PinnedSize() {
  if (fd_ >= 0) ::close(fd_);
}

PinnedSize::PinnedSize(PinnedSize&& other) noexcept
    : path_(std::move(other.path_)), size_(other.size_), fd_(std::exchange(other.fd_, -1)), reads_(other.reads_) {}

PinnedSize& PinnedSize::operator=(PinnedSize&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    size_ = other.size_;
    fd_ = std::exchange(other.fd_, -1);
    reads_ = other.reads_;
  }
  return *this;
}

void PinnedSize::before_read(int rank) {
  ++reads_;
  static bool truncated = false;
  if (truncated || !fault_armed("truncate-input", rank, reads_)) return;
  const char* target = std::getenv("MPIMERGE_FAULT_INPUT");
  std::error_code ec;
  if (!target || !std::filesystem::equivalent(target, path_, ec)) return;
  truncated = true;
  if (::truncate(path_.c_str(), static_cast<off_t>(size_ / 2)) != 0) std::abort();  // a test that cannot run
}

void PinnedSize::check() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw InputError(path_ + ": cannot be read: " + std::strerror(errno));
  const auto now = static_cast<std::uint64_t>(st.st_size);
  if (now < size_)
    throw InputError(path_ + ": the file shrank from " + std::to_string(size_) + " to " + std::to_string(now) +
                     " bytes while it was read (truncated or rewritten by another program?)");
}

}  // namespace mpimerge::storage
