#include "mpimerge/storage/file_system.hpp"

#include <sys/vfs.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace mpimerge::storage {
namespace {

struct Known {
  std::uint32_t magic;
  const char* name;
  FileSystemKind kind;
};

// linux/magic.h, and the file systems' own headers for those outside the kernel (ZFS, Lustre's
// LL_SUPER_MAGIC, GPFS, BeeGFS, PanFS).
constexpr Known kKnown[] = {
    {0xEF53, "ext4", FileSystemKind::local},  // ext2, ext3 and ext4 share it
    {0x58465342, "xfs", FileSystemKind::local},
    {0x9123683E, "btrfs", FileSystemKind::local},
    {0x2FC12FC1, "zfs", FileSystemKind::local},
    {0xF2F52010, "f2fs", FileSystemKind::local},
    {0xCA451A4E, "bcachefs", FileSystemKind::local},
    {0x794C7630, "overlayfs", FileSystemKind::local},  // containers: layers on a local disk
    {0x0BD00BD0, "lustre", FileSystemKind::parallel},
    {0x47504653, "gpfs", FileSystemKind::parallel},
    {0x19830326, "beegfs", FileSystemKind::parallel},
    {0x00C36400, "cephfs", FileSystemKind::parallel},
    {0xAAD7AAEA, "panfs", FileSystemKind::parallel},
    {0x20030528, "orangefs", FileSystemKind::parallel},
    {0x6969, "nfs", FileSystemKind::network},
    {0x517B, "smb", FileSystemKind::network},
    {0xFF534D42, "cifs", FileSystemKind::network},
    {0xFE534D42, "smb2", FileSystemKind::network},
    {0x01021994, "tmpfs", FileSystemKind::memory},
    {0x858458F6, "ramfs", FileSystemKind::memory},
};

}  // namespace

FileSystem classify_file_system(std::uint64_t f_type) {
  // f_type is a signed long: compare the 32 bits the magic numbers have.
  const auto magic = static_cast<std::uint32_t>(f_type);
  for (const Known& k : kKnown)
    if (k.magic == magic) return {k.kind, k.name};
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", static_cast<unsigned>(magic));
  return {FileSystemKind::unknown, hex};
}

FileSystem file_system_of(const std::string& path) {
  std::error_code ignored;
  std::filesystem::path at = std::filesystem::absolute(path.empty() ? "." : path, ignored);
  while (true) {
    struct statfs info {};
    if (::statfs(at.c_str(), &info) == 0) return classify_file_system(static_cast<std::uint64_t>(info.f_type));
    if (!at.has_relative_path()) return {};
    at = at.parent_path();
  }
}

OutputIoChoice default_output_io(const FileSystem& fs) {
  switch (fs.kind) {
    case FileSystemKind::local:
      return {true, fs.name + " is a local file system: each rank writes its rows with O_DIRECT, past the page cache "
                              "(filling fresh page-cache pages costs more than the disk)"};
    case FileSystemKind::parallel:
      return {false, fs.name + " is a parallel file system: collective MPI-IO writes (its aggregators write whole "
                               "stripes)"};
    case FileSystemKind::network:
      return {false, fs.name + " is a network file system: collective MPI-IO writes (O_DIRECT there sends each "
                               "request to the server uncached)"};
    case FileSystemKind::memory:
      return {false, fs.name + " is held in memory: collective MPI-IO writes (there is no disk to write past)"};
    case FileSystemKind::unknown: break;
  }
  return {false, "file system " + fs.name + " is not one mpimerge knows: collective MPI-IO writes"};
}

}  // namespace mpimerge::storage
