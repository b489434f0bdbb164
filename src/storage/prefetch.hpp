#pragma once
// Read-ahead hints: asks the operating system to start fetching byte ranges of a file into its
// cache (posix_fadvise WILLNEED), so that a streaming merge's next group arrives while the current
// one is computed. A hint only: it changes no result, and a failure is ignored.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace mpimerge::storage {

class ReadAhead {
 public:
  explicit ReadAhead(std::string path) : path_(std::move(path)) {}
  ~ReadAhead() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;
  ReadAhead(ReadAhead&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) { other.fd_ = -1; }

  void will_need(std::uint64_t offset, std::uint64_t bytes) {
    if (bytes == 0) return;
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(bytes), POSIX_FADV_WILLNEED);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace mpimerge::storage
