#include "mpimerge/util/disk_space.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

namespace fs = std::filesystem;

// A write that failed with less than this left is taken for a full disk (the last write needed more).
constexpr std::uint64_t kNearlyFull = std::uint64_t{64} << 20;

struct FreeSpace {
  std::uint64_t bytes;
  std::string dir;
  std::string text() const { return std::to_string(bytes) + " bytes free on the file system of " + dir; }
};

// The free space of the file system holding path, seen from its nearest existing directory.
std::optional<FreeSpace> free_space(const std::string& path) {
  std::error_code ec;
  fs::path dir = fs::absolute(path, ec).parent_path();
  while (!dir.empty() && !fs::is_directory(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  struct statvfs s {};
  if (dir.empty() || ::statvfs(dir.c_str(), &s) != 0) return std::nullopt;
  return FreeSpace{static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize, dir.string()};
}

}  // namespace

std::string disk_full_note(const std::string& path) {
  const auto space = free_space(path);
  if (!space || space->bytes >= kNearlyFull) return "";
  return " (No space left on device: " + space->text() + ")";
}

void reserve_space(const std::string& path, std::uint64_t bytes) {
  // Test hook (tests/bad-inputs/cases/full_disk_while_writing.sh): skip the reservation, so that the
  // disk fills up during the writes themselves.
  static const bool skip = std::getenv("MPIMERGE_NO_SPACE_RESERVATION") != nullptr;
  if (bytes == 0 || skip) return;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open to reserve its space: " + std::strerror(errno));
  int error = 0;
  if (::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) error = errno;
  ::close(fd);
  if (error == 0 || error == EOPNOTSUPP || error == ENOSYS) return;
  const auto space = error == ENOSPC ? free_space(path) : std::nullopt;
  throw Error(path + ": cannot reserve the " + std::to_string(bytes) + " bytes the output needs: " + std::strerror(error) +
              (space ? " (" + space->text() + ")" : ""));
}

}  // namespace mpimerge
