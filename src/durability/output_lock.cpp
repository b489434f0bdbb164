#include "durability/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

constexpr std::string_view kPrefix = "mpimerge lock: ";

// 0: taken; EWOULDBLOCK: another process holds it; anything else: this file system has no locks.
int try_lock(int fd) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
  if (errno == EWOULDBLOCK) return EWOULDBLOCK;
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &whole) == 0) return 0;
  if (errno == EAGAIN || errno == EACCES) return EWOULDBLOCK;
  return errno == 0 ? EINVAL : errno;
}

std::string read_all(int fd) {
  std::string text(512, '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

std::string who_am_i() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown");
  char since[32] = "?";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  if (::gmtime_r(&now, &utc)) std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return "pid " + std::to_string(::getpid()) + " on host " + host + ", since " + since;
}

bool same_file(int fd, const std::string& path) {
  struct stat open_file {}, at_path {};
  return ::fstat(fd, &open_file) == 0 && ::lstat(path.c_str(), &at_path) == 0 && open_file.st_dev == at_path.st_dev &&
         open_file.st_ino == at_path.st_ino;
}

}  // namespace

std::string OutputLock::path_for(const std::string& output) {
  std::string out = output;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + ".lock";
}

bool OutputLock::is_lock_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return false;
  std::string head(kPrefix.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  return (in.gcount() == 0 && in.eof()) || (in && head == kPrefix);
}

OutputLock::OutputLock(const std::string& output) : path_(path_for(output)) {
  // A run that ends removes its lock file; one that opened it just before holds a lock on a file
  // no longer at the path. Taking the lock, then finding the same file at the path, rules that out.
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0) throw Error(path_ + ": cannot create the output's lock file: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw UsageError("'" + path_ + "', where the output's lock goes, is not a regular file");
    }
    const int result = try_lock(fd);
    if (result == EWOULDBLOCK) {
      std::string holder = read_all(fd);
      ::close(fd);
      if (holder.rfind(kPrefix, 0) == 0) holder = holder.substr(kPrefix.size());
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\r')) holder.pop_back();
      throw UsageError("output '" + output + "' is being written by another mpimerge run (" +
                       (holder.empty() ? "its lock " + path_ + " is held" : holder) +
                       "): wait for it to end, or choose another output");
    }
    held_ = result == 0;
    if (held_ && !same_file(fd, path_)) {
      ::close(fd);
      continue;
    }
    fd_ = fd;
  }
  if (fd_ < 0) throw Error(path_ + ": cannot take the output's lock: its file keeps being replaced");
  const std::string text = read_all(fd_);
  if (!text.empty() && text.rfind(kPrefix, 0) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw UsageError("'" + path_ + "', where the output's lock goes, holds something else: remove it or choose another output");
  }
  const std::string line = std::string(kPrefix) + who_am_i() + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    const int saved = errno;
    ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
    throw Error(path_ + ": cannot write the output's lock file: " + std::strerror(saved));
  }
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // Removed while still held: a run waiting to open it either opened this file (and will find it
  // gone from the path) or finds no file and makes a new one.
  if (same_file(fd_, path_)) ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace mpimerge
