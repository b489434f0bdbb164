#include "mpimerge/util/byte_arena.hpp"

#include <sys/mman.h>

#include <new>

namespace mpimerge {
namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
}

std::span<std::uint8_t> ByteArena::take(std::size_t n) {
  if (n > capacity_) {
    data_.reset();
    const std::size_t size = (n + kHugePage - 1) / kHugePage * kHugePage;
    auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(kHugePage, size));
    if (!p) throw std::bad_alloc();
    madvise(p, size, MADV_HUGEPAGE);  // advice only: ignored where huge pages are off
    data_.reset(p);
    capacity_ = size;
  }
  return {data_.get(), n};
}

}  // namespace mpimerge
