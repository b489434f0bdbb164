#pragma once
// Writes a rank's byte ranges of an output file past the page cache (O_DIRECT), at offsets the
// format already knows (an HDF5 dataset allocated early, a safetensors tensor).
//
// Why: writing through the page cache costs the kernel a fresh page per 4 KiB before the disk sees
// a byte; on the VMs measured in docs/performance.md that ran at 0.33 GB/s, with O_DIRECT at
// 1.7-2.1 GB/s. The pages wholly inside a range go direct; the partial pages at its two ends go
// through the page cache (another rank, or the format's metadata, may share them), so no page is
// ever written both ways. A range under 128 KiB (kSmallWriteBytes: a small tensor, or a rank's
// rows of one) goes through the page cache whole. Not collective: each rank writes its own ranges.
//
// The direct part is written behind: write_at copies it into aligned buffers (O_DIRECT needs
// aligned memory anyway) and a writer thread sends them to the disk while the caller computes the
// next group; at most kInFlightBytes (128 MiB, outside the memory budget) wait. A failure
// surfaces at the next write_at or sync().
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
  static constexpr std::uint64_t kBufferBytes = std::uint64_t{4} << 20;
  static constexpr std::uint64_t kInFlightBytes = std::uint64_t{128} << 20;
  // Ranges under this go through the page cache whole: a direct write costs the device's latency
  // (measured with dd oflag=direct on the benchmark's VM: 0.09 ms for 16 KiB, 0.15 ms for 128 KiB,
  // in the writer thread), a buffered one the fresh page-cache pages (0.27 GB/s there: 0.5 ms for
  // 128 KiB, in the caller). It was 1 MiB, which sent the 0.55B merge's 745 KB pieces (its k and v
  // projections' rows on a rank) through the page cache: 29 MB per rank, `copy_folio_from_iter_atomic`
  // 40 ms per rank in the caller.
  static constexpr std::uint64_t kSmallWriteBytes = std::uint64_t{128} << 10;

  // Opens an existing file for direct writes; nullopt when its file system refuses O_DIRECT
  // (EINVAL). Throws Error for any other failure.
  static std::optional<DirectFile> open(const std::string& path);

  DirectFile(DirectFile&&) noexcept;
  DirectFile& operator=(DirectFile&&) noexcept;
  ~DirectFile();  // waits for the writes behind (their errors are then lost: sync() first)

  // Writes data at offset (the whole-page part behind); throws Error naming the file (and a full
  // disk) on failure, this write's or an earlier one's.
  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data);
  // Every write done and on stable storage (fdatasync); throws the first failure.
  void sync();

 private:
  class Writer;
  explicit DirectFile(std::unique_ptr<Writer> writer);
  std::unique_ptr<Writer> writer_;
};

// Collective: the file opened for direct writes on every rank, or on none when any rank's file
// system refuses O_DIRECT (the writer then stays with MPI-IO). Errors are agreed on by all ranks.
std::optional<DirectFile> open_direct_on_all(const std::string& path, const mpi::Comm& comm);

}  // namespace mpimerge::storage
