#pragma once
// A reusable byte buffer for tensor slices. It grows without zero-filling (every byte is written
// before it is read); its memory comes from a BufferPool (the process's by default), so that a
// buffer given up by one session, group or sweep point is the next one's, touched only once.
#include <cstdint>
#include <span>

#include "mpimerge/util/buffer_pool.hpp"

namespace mpimerge {

class ByteArena {
 public:
  explicit ByteArena(BufferPool& pool = BufferPool::process()) : pool_(&pool) {}

  // n bytes (contents unspecified), valid until the next call.
  std::span<std::uint8_t> take(std::size_t n);
  // Makes the next take(n) of up to n bytes use memory held now (one block for every group).
  void reserve(std::size_t n) { take(n); }
  std::size_t capacity() const { return block_.capacity(); }

 private:
  BufferPool* pool_;
  BufferPool::Lease block_;
};

}  // namespace mpimerge
