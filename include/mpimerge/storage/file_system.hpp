#pragma once
// What kind of file system a path lies on (statfs's f_type), and the choices the engine makes from
// it by default (docs/performance.md, "The defaults"):
// - how the output is written: O_DIRECT by each rank on a local disk (page-cache writes of fresh
//   pages cost more than the disk on the VMs measured), collective MPI-IO on a parallel file system
//   (Lustre, GPFS, BeeGFS...: MPI-IO's aggregators match the stripes) and everywhere else;
// - how much of the inputs a rank holds at once (pipeline/targets.cpp): a working set sized for
//   throughput on a local disk, where a second read of a streamed multi-pass merge comes from the
//   page cache, and as much as the budget allows on a parallel or network file system, where a
//   second read costs the file system's bandwidth again.
#include <cstdint>
#include <string>

namespace mpimerge::storage {

enum class FileSystemKind {
  local,     // a disk of this node: ext4, XFS, Btrfs, ZFS, F2FS, overlayfs
  parallel,  // Lustre, GPFS (Spectrum Scale), BeeGFS, CephFS, PanFS, OrangeFS
  network,   // NFS, SMB/CIFS
  memory,    // tmpfs, ramfs: no disk behind it
  unknown,   // FUSE and anything not listed: the program's former defaults
};

struct FileSystem {
  FileSystemKind kind = FileSystemKind::unknown;
  std::string name;  // "ext4", "lustre", ...; "0x1234abcd" when unknown
};

// The kind of a file system from its statfs f_type (the magic numbers of linux/magic.h and of the
// file systems' own sources). Pure: tests inject f_type here.
FileSystem classify_file_system(std::uint64_t f_type);

// statfs of path, or of its nearest existing parent (an output not yet written); unknown when even
// "/" cannot be read. Never throws.
FileSystem file_system_of(const std::string& path);

// How the output goes to its file system by default, and why (for the log and the report).
struct OutputIoChoice {
  bool direct = false;
  std::string reason;
};
OutputIoChoice default_output_io(const FileSystem& fs);

}  // namespace mpimerge::storage
