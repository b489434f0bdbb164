#pragma once
// Writes a rank's byte ranges of an output file past the page cache (O_DIRECT), at offsets the
// format already knows (an HDF5 dataset allocated early, a safetensors tensor).
//
// Why: writing through the page cache costs the kernel a fresh page per 4 KiB before the disk sees
// a byte; on the VMs measured in docs/performance.md that ran at 0.33 GB/s, with O_DIRECT at
// 1.7-2.1 GB/s. The pages wholly inside a range go direct; the partial pages at its two ends go
// through the page cache (another rank, or the format's metadata, may share them), so no page is
// ever written both ways. Not collective: each rank writes its own ranges.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge::storage {

class DirectFile {
 public:
  // Opens an existing file for direct writes; nullopt when its file system refuses O_DIRECT
  // (EINVAL). Throws Error for any other failure.
  static std::optional<DirectFile> open(const std::string& path);

  DirectFile(DirectFile&& other) noexcept;
  DirectFile& operator=(DirectFile&& other) noexcept;
  DirectFile(const DirectFile&) = delete;
  DirectFile& operator=(const DirectFile&) = delete;
  ~DirectFile();

  // Writes data at offset; throws Error naming the file (and a full disk) on failure.
  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data);
  // Everything written through either descriptor on stable storage (fdatasync).
  void sync();

 private:
  DirectFile(std::string path, int direct_fd, int buffered_fd, std::uint64_t alignment);
  void write_buffered(std::uint64_t offset, std::span<const std::uint8_t> data);
  void write_direct(std::uint64_t offset, std::span<const std::uint8_t> data);

  std::string path_;
  int direct_fd_ = -1, buffered_fd_ = -1;
  std::uint64_t alignment_ = 4096;
  // Direct transfers need aligned memory: data passes through this buffer, reused for every write.
  struct FreeAligned {
    void operator()(std::uint8_t* p) const;
  };
  std::unique_ptr<std::uint8_t, FreeAligned> bounce_;
};

// Collective: the file opened for direct writes on every rank, or on none when any rank's file
// system refuses O_DIRECT (the writer then stays with MPI-IO). Errors are agreed on by all ranks.
std::optional<DirectFile> open_direct_on_all(const std::string& path, const mpi::Comm& comm);

}  // namespace mpimerge::storage
