#pragma once
// A reusable byte buffer for tensor slices. It grows without zero-filling (every byte is written
// before it is read) and asks for transparent huge pages: first touch of fresh memory costs a page
// fault per 4 KiB page otherwise, which showed as a fifth of a merge's time in profiles.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace mpimerge {

class ByteArena {
 public:
  // n bytes (contents unspecified), valid until the next call.
  std::span<std::uint8_t> take(std::size_t n);
  std::size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(std::uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<std::uint8_t, Free> data_;
  std::size_t capacity_ = 0;
};

}  // namespace mpimerge
