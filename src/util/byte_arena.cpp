#include "mpimerge/util/byte_arena.hpp"

namespace mpimerge {

std::span<std::uint8_t> ByteArena::take(std::size_t n) {
  if (n > block_.capacity()) {
    block_.reset();  // back to the pool first, so that the pool may reuse or free it
    block_ = pool_->take(n);
  }
  return {block_.data(), n};
}

}  // namespace mpimerge
