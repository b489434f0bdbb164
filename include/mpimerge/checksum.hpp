#pragma once
// Content checksums of tensors that every split of the rows between ranks computes alike: the
// wrap-around sum, over rows, of mix64(XXH3_64(row bytes) + row index), combined across ranks
// with an integer sum and finally folded with the tensor's dtype and shape. A changed, moved,
// lost or swapped row changes it (with probability 1 - 2^-64).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "mpimerge/tensor.hpp"

namespace mpimerge {

// This rank's part: rows [first_row, first_row + rows.size() / row_bytes) of a tensor.
std::uint64_t partial_checksum(std::span<const std::uint8_t> rows, std::uint64_t first_row, std::uint64_t row_bytes);

// The checksum from the sum of every rank's partial_checksum (wrapping).
std::uint64_t finish_checksum(std::uint64_t partial_sum, const TensorInfo& tensor);

// XXH3 of a text (fingerprints of jobs).
std::uint64_t text_checksum(std::string_view text);

std::string checksum_hex(std::uint64_t checksum);  // 16 lower-case hex digits
std::uint64_t parse_checksum_hex(const std::string& text);  // throws InputError

}  // namespace mpimerge
