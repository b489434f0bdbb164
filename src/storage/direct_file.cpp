#include "storage/direct_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/util/buffer_pool.hpp"
#include "mpimerge/util/disk_space.hpp"

namespace mpimerge::storage {
namespace {

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

// Returns 0 or the errno of the failure.
int write_all(int fd, std::uint64_t offset, const std::uint8_t* data, std::uint64_t bytes) {
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, data, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ENOSPC;
    data += n, offset += static_cast<std::uint64_t>(n), bytes -= static_cast<std::uint64_t>(n);
  }
  return 0;
}

// Staging buffers come from the process's pool (util/buffer_pool.hpp, 2 MiB aligned): the next
// output (a sweep point, a shard, a resumed run) writes from the same, already touched, memory.
using AlignedBuffer = BufferPool::Lease;

}  // namespace

// The descriptors, the buffers and the thread that writes the whole pages behind the caller.
class DirectFile::Writer {
 public:
  Writer(std::string path, int direct_fd, int buffered_fd, std::uint64_t alignment)
      : path_(std::move(path)), direct_fd_(direct_fd), buffered_fd_(buffered_fd), alignment_(alignment) {}

  ~Writer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
    ::close(direct_fd_);
    ::close(buffered_fd_);
  }

  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data) {
    throw_if_failed();
    const std::uint64_t end = offset + data.size();
    const std::uint64_t first_page = (offset + alignment_ - 1) / alignment_ * alignment_;
    const std::uint64_t last_page = end / alignment_ * alignment_;
    // No whole page inside, or too little to be worth a device round trip of its own: all through
    // the page cache. One synchronous O_DIRECT write per small tensor costs the device's latency
    // each time (10k tensors of 10 KB at 1 rank: 20 s of waiting, against 0.2 s buffered).
    if (first_page >= last_page || data.size() < kSmallWriteBytes) {
      write_buffered(offset, data);
      return;
    }
    write_buffered(offset, data.first(first_page - offset));
    for (std::uint64_t at = first_page; at < last_page; at += kBufferBytes) {
      const std::uint64_t bytes = std::min<std::uint64_t>(kBufferBytes, last_page - at);
      std::uint64_t position = (filled_ + alignment_ - 1) / alignment_ * alignment_;
      if (filling_.data() == nullptr || position + bytes > kBufferBytes) {
        hand_over_filling();
        filling_ = free_buffer();
        position = 0;
      }
      std::memcpy(filling_.data() + position, data.data() + (at - offset), bytes);
      filled_ = position + bytes;
      queue({at, bytes, filling_.data() + position, {}});
    }
    write_buffered(last_page, data.subspan(last_page - offset));
  }

  void sync() {
    hand_over_filling();
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
    }
    throw_if_failed();
    if (::fdatasync(buffered_fd_) != 0) throw Error(failure(path_, "cannot sync", errno));
  }

 private:
  // A piece to write from a staging buffer; the job that carries the buffer itself (after its
  // last piece: jobs are written in order) hands it back once done.
  struct Job {
    std::uint64_t offset, bytes;
    const std::uint8_t* data;
    AlignedBuffer buffer;
  };

  void queue(Job job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(job));
    }
    changed_.notify_all();
  }

  // The buffer being filled goes to the writer thread, to come back once its pieces are written.
  // Pieces share buffers: one 4 MiB buffer per piece held 32 pieces of a few hundred KB in 128 MiB
  // under a small --memory-budget (docs/performance.md).
  void hand_over_filling() {
    if (filling_.data() != nullptr) queue({0, 0, nullptr, std::move(filling_)});
    filling_ = {};
    filled_ = 0;
  }

  void write_buffered(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (data.empty()) return;
    if (const int error = write_all(buffered_fd_, offset, data.data(), data.size()))
      throw Error(failure(path_, "cannot write", error));
  }

  void throw_if_failed() {
    std::lock_guard lock(mutex_);
    if (error_ != 0) throw Error(failure(path_, "cannot write", error_));
  }

  // A buffer to fill: a new one while fewer than kInFlightBytes exist, else the next one the
  // writer thread returns.
  AlignedBuffer free_buffer() {
    std::unique_lock lock(mutex_);
    if (free_.empty() && buffers_ * kBufferBytes < kInFlightBytes) {
      AlignedBuffer buffer = BufferPool::process().take(kBufferBytes);
      ++buffers_;
      if (!thread_.joinable()) thread_ = std::thread([this] { drain(); });
      return buffer;
    }
    changed_.wait(lock, [&] { return !free_.empty(); });
    AlignedBuffer buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
  }

  void drain() {
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      Job job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      const bool failed_before = error_ != 0;  // then only hand the buffers back
      lock.unlock();
      const int error = failed_before || job.bytes == 0 ? 0 : write_all(direct_fd_, job.offset, job.data, job.bytes);
      lock.lock();
      if (error != 0 && error_ == 0) error_ = error;
      if (job.buffer.data() != nullptr) free_.push_back(std::move(job.buffer));
      busy_ = false;
      changed_.notify_all();
    }
  }

  std::string path_;
  int direct_fd_, buffered_fd_;
  std::uint64_t alignment_;
  std::mutex mutex_;
  std::condition_variable changed_;  // a job queued or done, a buffer freed, or stopping
  std::deque<Job> queue_;
  std::vector<AlignedBuffer> free_;
  std::uint64_t buffers_ = 0;
  AlignedBuffer filling_;  // the caller's: pieces are copied in up to filled_
  std::uint64_t filled_ = 0;
  bool busy_ = false, stopping_ = false;
  int error_ = 0;  // the first failed direct write's errno
  std::thread thread_;
};

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
  return DirectFile(std::make_unique<Writer>(path, direct, buffered, direct_alignment(direct)));
}

DirectFile::DirectFile(std::unique_ptr<Writer> writer) : writer_(std::move(writer)) {}
DirectFile::DirectFile(DirectFile&&) noexcept = default;
DirectFile& DirectFile::operator=(DirectFile&&) noexcept = default;
DirectFile::~DirectFile() = default;

void DirectFile::write_at(std::uint64_t offset, std::span<const std::uint8_t> data) { writer_->write_at(offset, data); }
void DirectFile::sync() { writer_->sync(); }

std::optional<DirectFile> open_direct_on_all(const std::string& path, const mpi::Comm& comm) {
  std::optional<DirectFile> file;
  mpi::run_agreed(comm, [&] { file = DirectFile::open(path); });
  if (!comm.all(file.has_value())) file.reset();
  return file;
}

}  // namespace mpimerge::storage
