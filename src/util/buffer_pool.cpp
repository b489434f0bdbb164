#include "mpimerge/util/buffer_pool.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <new>

namespace mpimerge {

BufferPool::Lease& BufferPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = other.pool_;
    data_ = other.data_;
    capacity_ = other.capacity_;
    other.pool_ = nullptr;
    other.data_ = nullptr;
    other.capacity_ = 0;
  }
  return *this;
}

void BufferPool::Lease::reset() {
  if (pool_ && data_) pool_->give_back(data_, capacity_);
  pool_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

BufferPool::~BufferPool() {
  for (auto& [capacity, data] : idle_) std::free(data);
}

BufferPool& BufferPool::process() {
  static BufferPool* pool = new BufferPool();  // deliberately never destroyed
  return *pool;
}

BufferPool::Lease BufferPool::take(std::size_t bytes) {
  const std::size_t size = (std::max<std::size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  Lease lease;
  lease.pool_ = this;
  lease.capacity_ = size;
  std::lock_guard lock(mutex_);
  if (const auto fit = idle_.lower_bound(size); fit != idle_.end()) {
    lease.capacity_ = fit->first;
    lease.data_ = fit->second;
    idle_bytes_ -= fit->first;
    idle_.erase(fit);
    return lease;
  }
  trim_for(size);
  auto* data = static_cast<std::uint8_t*>(std::aligned_alloc(kAlignment, size));
  if (!data) throw std::bad_alloc();
  madvise(data, size, MADV_HUGEPAGE);  // advice only: ignored where huge pages are off
  lease.data_ = data;
  held_ += size;
  fresh_ += size;
  return lease;
}

void BufferPool::give_back(std::uint8_t* data, std::size_t capacity) {
  std::lock_guard lock(mutex_);
  if (held_ > cap_) {
    std::free(data);
    held_ -= capacity;
    return;
  }
  idle_.emplace(capacity, data);
  idle_bytes_ += capacity;
}

void BufferPool::trim_for(std::uint64_t incoming) {
  // The largest idle blocks first: the fewest frees that make room.
  while (!idle_.empty() && held_ + incoming > cap_) {
    const auto largest = std::prev(idle_.end());
    std::free(largest->second);
    held_ -= largest->first;
    idle_bytes_ -= largest->first;
    idle_.erase(largest);
  }
}

void BufferPool::set_cap(std::uint64_t cap) {
  std::lock_guard lock(mutex_);
  cap_ = cap;
  trim_for(0);
}

std::uint64_t BufferPool::cap() const {
  std::lock_guard lock(mutex_);
  return cap_;
}

std::uint64_t BufferPool::held_bytes() const {
  std::lock_guard lock(mutex_);
  return held_;
}

std::uint64_t BufferPool::idle_bytes() const {
  std::lock_guard lock(mutex_);
  return idle_bytes_;
}

std::uint64_t BufferPool::fresh_bytes() const {
  std::lock_guard lock(mutex_);
  return fresh_;
}

}  // namespace mpimerge
