#pragma once
// Large buffers (tensor slices, merged output, direct writes' staging) from one pool per process,
// touched once and reused across groups, tensors, sessions and sweep points.
//
// Why: first touch of fresh memory costs a page fault per page, and on the VMs measured in
// docs/performance.md it ran at 0.4-0.7 GB/s, slower than reading the inputs from the page cache;
// memory freed back to the system (glibc returns large blocks at once) is fresh again when it comes
// back. Blocks are 2 MiB aligned (huge pages where the kernel allows, and any O_DIRECT alignment).
//
// The cap bounds what the pool keeps: a block given back while the pool holds more than the cap is
// freed, and before a new block is made, idle blocks are freed until it fits under the cap. A lease
// the cap cannot make room for is still served (the caller's memory budget governs what it asks
// for); its block is freed when given back. Thread-safe.
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <span>
#include <utility>

namespace mpimerge {

class BufferPool {
 public:
  static constexpr std::size_t kAlignment = std::size_t{2} << 20;

  // A block of at least the bytes asked for; given back to its pool when destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { reset(); }

    std::uint8_t* data() const { return data_; }
    std::size_t capacity() const { return capacity_; }
    void reset();  // gives the block back now

   private:
    friend class BufferPool;
    BufferPool* pool_ = nullptr;
    std::uint8_t* data_ = nullptr;
    std::size_t capacity_ = 0;
  };

  explicit BufferPool(std::uint64_t cap = std::numeric_limits<std::uint64_t>::max()) : cap_(cap) {}
  ~BufferPool();  // frees the idle blocks; every lease must be given back first
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // The process's pool (never destroyed: leases may outlive static destructors' order).
  static BufferPool& process();

  // A block of at least `bytes` (rounded up to kAlignment; contents unspecified): the smallest idle
  // block that is large enough, else a new one.
  Lease take(std::size_t bytes);
  // Sets the cap, freeing idle blocks beyond it.
  void set_cap(std::uint64_t cap);

  std::uint64_t cap() const;
  std::uint64_t held_bytes() const;   // leased and idle
  std::uint64_t idle_bytes() const;
  std::uint64_t fresh_bytes() const;  // ever allocated (first touched) by this pool

 private:
  void give_back(std::uint8_t* data, std::size_t capacity);
  void trim_for(std::uint64_t incoming);  // under the lock

  mutable std::mutex mutex_;
  std::multimap<std::size_t, std::uint8_t*> idle_;  // by capacity
  std::uint64_t cap_;
  std::uint64_t held_ = 0, idle_bytes_ = 0, fresh_ = 0;
};

}  // namespace mpimerge
