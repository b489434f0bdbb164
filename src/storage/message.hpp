#pragma once
// Little-endian fields of the messages one rank sends the others: an HDF5 catalog's parts, a
// parsed safetensors header, an HDF5 output's structure. Each side is this program, so a defect is
// an internal error (Error), never an input's.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpimerge/error.hpp"

namespace mpimerge::storage {

inline void put_number(std::vector<std::uint8_t>& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

inline void put_text(std::vector<std::uint8_t>& out, std::string_view text) {
  put_number(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

// Reads what put_number and put_text wrote, in order; what: the message's name, for errors.
class MessageFields {
 public:
  MessageFields(std::span<const std::uint8_t> bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  std::uint64_t number() {
    need(8);
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | bytes_[at_ + static_cast<std::size_t>(i)];
    at_ += 8;
    return value;
  }
  std::string text() {
    const std::uint64_t n = number();
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return s;
  }
  bool done() const { return at_ == bytes_.size(); }
  // Throws unless every byte was read.
  void finish() const {
    if (!done()) throw Error(what_ + ": trailing bytes");
  }

 private:
  void need(std::uint64_t n) const {
    if (n > bytes_.size() - at_) throw Error(what_ + ": truncated message");
  }
  std::span<const std::uint8_t> bytes_;
  std::string what_;
  std::size_t at_ = 0;
};

}  // namespace mpimerge::storage
