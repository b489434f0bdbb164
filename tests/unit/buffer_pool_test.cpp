// The process's buffers: touched once, reused, and kept under a cap.
#include "mpimerge/util/buffer_pool.hpp"

#include <gtest/gtest.h>

#include "mpimerge/util/byte_arena.hpp"

namespace mpimerge {
namespace {

constexpr std::size_t kBlock = BufferPool::kAlignment;  // 2 MiB

TEST(BufferPool, ABlockGivenBackIsTheNextLeaseOfItsSize) {
  BufferPool pool;
  std::uint8_t* first = nullptr;
  {
    BufferPool::Lease lease = pool.take(3 * kBlock - 5);
    EXPECT_EQ(lease.capacity(), 3 * kBlock);  // rounded up to the alignment
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(lease.data()) % kBlock, 0u);
    first = lease.data();
  }
  EXPECT_EQ(pool.idle_bytes(), 3 * kBlock);
  const BufferPool::Lease again = pool.take(2 * kBlock);  // a smaller request reuses the idle block
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(again.capacity(), 3 * kBlock);
  EXPECT_EQ(pool.fresh_bytes(), 3 * kBlock);  // touched once
  EXPECT_EQ(pool.held_bytes(), 3 * kBlock);
  EXPECT_EQ(pool.idle_bytes(), 0u);
}

TEST(BufferPool, TheSmallestIdleBlockThatFitsIsTaken) {
  BufferPool pool;
  std::uint8_t* small = nullptr;
  {
    BufferPool::Lease a = pool.take(kBlock), b = pool.take(4 * kBlock);
    small = a.data();
  }
  const BufferPool::Lease lease = pool.take(1);
  EXPECT_EQ(lease.data(), small);
  EXPECT_EQ(pool.fresh_bytes(), 5 * kBlock);
}

TEST(BufferPool, TheCapBoundsWhatThePoolKeeps) {
  BufferPool pool(4 * kBlock);
  {
    BufferPool::Lease a = pool.take(3 * kBlock);
    BufferPool::Lease b = pool.take(3 * kBlock);  // beyond the cap: served all the same
    EXPECT_EQ(pool.held_bytes(), 6 * kBlock);
    b.reset();  // the pool would hold more than the cap: freed
    EXPECT_EQ(pool.held_bytes(), 3 * kBlock);
    EXPECT_EQ(pool.idle_bytes(), 0u);
  }
  EXPECT_EQ(pool.idle_bytes(), 3 * kBlock);  // within the cap: kept
  // A block larger than any idle one: idle blocks are freed first to stay under the cap.
  const BufferPool::Lease big = pool.take(4 * kBlock);
  EXPECT_EQ(pool.held_bytes(), 4 * kBlock);
  EXPECT_EQ(pool.idle_bytes(), 0u);
  EXPECT_LE(pool.held_bytes(), pool.cap());
}

TEST(BufferPool, LoweringTheCapFreesIdleBlocks) {
  BufferPool pool;
  { BufferPool::Lease a = pool.take(kBlock), b = pool.take(2 * kBlock); }
  EXPECT_EQ(pool.held_bytes(), 3 * kBlock);
  pool.set_cap(2 * kBlock);
  EXPECT_EQ(pool.held_bytes(), kBlock);  // the largest idle block went first
  EXPECT_EQ(pool.idle_bytes(), kBlock);
}

TEST(ByteArena, ArenasOneAfterTheOtherShareTheirMemory) {
  BufferPool pool;
  std::uint8_t* used = nullptr;
  {
    ByteArena arena(pool);
    arena.reserve(5 * kBlock);
    used = arena.take(kBlock).data();
    EXPECT_EQ(arena.take(5 * kBlock).data(), used);  // within what it holds: the same block
  }
  ByteArena next(pool);  // a later group, session or sweep point
  EXPECT_EQ(next.take(4 * kBlock).data(), used);
  EXPECT_EQ(pool.fresh_bytes(), 5 * kBlock);
}

}  // namespace
}  // namespace mpimerge
