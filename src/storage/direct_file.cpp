#include "storage/direct_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/util/disk_space.hpp"

namespace mpimerge::storage {
namespace {

constexpr std::uint64_t kBounceBytes = std::uint64_t{4} << 20;  // 4 MiB per direct call, reused

std::string failure(const std::string& path, const char* what, int error) {
  return path + ": " + what + ": " + std::strerror(error) + disk_full_note(path);
}

// The file system's own alignment for direct I/O where it says (statx, Linux 6.1+), else a page.
std::uint64_t direct_alignment(int fd) {
  std::uint64_t alignment = 4096;
#if defined(STATX_DIOALIGN)
  struct statx info {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &info) == 0 && (info.stx_mask & STATX_DIOALIGN) &&
      info.stx_dio_offset_align != 0)
    alignment = std::max<std::uint64_t>({info.stx_dio_offset_align, info.stx_dio_mem_align, 512});
#else
  (void)fd;
#endif
  return alignment;
}

void write_all(int fd, std::uint64_t offset, const std::uint8_t* data, std::uint64_t bytes, const std::string& path) {
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, data, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(failure(path, "cannot write", errno));
    if (n == 0) throw Error(failure(path, "cannot write", ENOSPC));
    data += n, offset += static_cast<std::uint64_t>(n), bytes -= static_cast<std::uint64_t>(n);
  }
}

}  // namespace

void DirectFile::FreeAligned::operator()(std::uint8_t* p) const { std::free(p); }

std::optional<DirectFile> DirectFile::open(const std::string& path) {
  const int direct = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (direct < 0 && errno == EINVAL) return std::nullopt;  // the file system has no direct I/O
  if (direct < 0) throw Error(failure(path, "cannot open for direct writes", errno));
  const int buffered = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (buffered < 0) {
    const int error = errno;
    ::close(direct);
    throw Error(failure(path, "cannot open for writing", error));
  }
  return DirectFile(path, direct, buffered, direct_alignment(direct));
}

DirectFile::DirectFile(std::string path, int direct_fd, int buffered_fd, std::uint64_t alignment)
    : path_(std::move(path)), direct_fd_(direct_fd), buffered_fd_(buffered_fd), alignment_(alignment) {
  void* memory = nullptr;
  if (::posix_memalign(&memory, alignment_, kBounceBytes) != 0) throw std::bad_alloc();
  bounce_.reset(static_cast<std::uint8_t*>(memory));
}

DirectFile::DirectFile(DirectFile&& other) noexcept
    : path_(std::move(other.path_)),
      direct_fd_(std::exchange(other.direct_fd_, -1)),
      buffered_fd_(std::exchange(other.buffered_fd_, -1)),
      alignment_(other.alignment_),
      bounce_(std::move(other.bounce_)) {}

DirectFile& DirectFile::operator=(DirectFile&& other) noexcept {
  if (this != &other) {
    this->~DirectFile();
    new (this) DirectFile(std::move(other));
  }
  return *this;
}

DirectFile::~DirectFile() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (buffered_fd_ >= 0) ::close(buffered_fd_);
}

void DirectFile::write_at(std::uint64_t offset, std::span<const std::uint8_t> data) {
  const std::uint64_t end = offset + data.size();
  const std::uint64_t first_page = (offset + alignment_ - 1) / alignment_ * alignment_;
  const std::uint64_t last_page = end / alignment_ * alignment_;
  if (first_page >= last_page) {  // no whole page inside: all through the page cache
    write_buffered(offset, data);
    return;
  }
  write_buffered(offset, data.first(first_page - offset));
  write_direct(first_page, data.subspan(first_page - offset, last_page - first_page));
  write_buffered(last_page, data.subspan(last_page - offset));
}

void DirectFile::write_buffered(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (!data.empty()) write_all(buffered_fd_, offset, data.data(), data.size(), path_);
}

void DirectFile::write_direct(std::uint64_t offset, std::span<const std::uint8_t> data) {
  for (std::uint64_t done = 0; done < data.size(); done += kBounceBytes) {
    const std::uint64_t bytes = std::min<std::uint64_t>(kBounceBytes, data.size() - done);
    std::memcpy(bounce_.get(), data.data() + done, bytes);
    write_all(direct_fd_, offset + done, bounce_.get(), bytes, path_);
  }
}

void DirectFile::sync() {
  if (::fdatasync(buffered_fd_) != 0) throw Error(failure(path_, "cannot sync", errno));
}

std::optional<DirectFile> open_direct_on_all(const std::string& path, const mpi::Comm& comm) {
  std::optional<DirectFile> file;
  mpi::run_agreed(comm, [&] { file = DirectFile::open(path); });
  if (!comm.all(file.has_value())) file.reset();
  return file;
}

}  // namespace mpimerge::storage
