#pragma once
// The safetensors header, as bytes: parsed and validated strictly, or built for writing. Pure
// functions: no I/O and no MPI, so that any rank parses the same bytes the same way and a fuzzer
// can drive parse_header directly. parse_header never reads outside the span it is given and turns
// every defect into an InputError naming the file and, where there is one, the tensor.
//
// Layout (see docs/checkpoint-format.md): 8-byte little-endian length N, N bytes of UTF-8 JSON
// (padded with spaces), then the data buffer. Each JSON entry is
//   "name": {"dtype": "BF16", "shape": [4096, 11008], "data_offsets": [begin, end]}
// with offsets relative to the data buffer; "__metadata__" maps strings to strings.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpimerge/tensor.hpp"

namespace mpimerge::storage::safetensors {

// The reference readers refuse larger headers (safetensors' MAX_HEADER_SIZE).
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct TensorEntry {
  TensorInfo info;
  std::uint64_t begin = 0;  // byte offsets in the data buffer
  std::uint64_t end = 0;
  bool operator==(const TensorEntry&) const = default;
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct Header {
  std::uint64_t json_bytes = 0;  // N
  std::uint64_t data_start() const { return 8 + json_bytes; }
  std::vector<TensorEntry> tensors;  // in the header's order
  Metadata metadata;                 // "__metadata__", in the header's order
  bool operator==(const Header&) const = default;
};

// The N that the first 8 bytes announce, checked against the file size and kMaxHeaderBytes.
// prefix may be shorter than 8 bytes (a short file): that is an error too.
std::uint64_t header_length(std::span<const std::uint8_t> prefix, std::uint64_t file_size, std::string_view path);

// Parses and validates the header of a file of file_size bytes. file_start holds the file's first
// bytes: at least 8 + N of them for a valid file (more are ignored; fewer is an error).
Header parse_header(std::span<const std::uint8_t> file_start, std::uint64_t file_size, std::string_view path);

// The dtype a safetensors name stands for (exact spelling: "BF16", "F8_E4M3", ...).
std::optional<DType> dtype_from_name(std::string_view name);

// safetensors' own order of dtypes (its Dtype enum): writers lay tensors out by descending rank,
// then by name, which keeps every tensor aligned to its element size.
int layout_rank(DType dtype);

// The header bytes (length, JSON, space padding to a multiple of 8) for tensors in this order,
// whose data follows back to back: the offsets are computed, entry.begin/end are ignored. Written
// exactly as the reference writer does: compact JSON, "__metadata__" first, fields dtype, shape,
// data_offsets. Throws InputError for a name that is not valid UTF-8.
std::vector<std::uint8_t> build_header(const std::vector<TensorInfo>& tensors, const Metadata& metadata);

// A parsed header as bytes, for the rank that parsed it to send the others;
// decode_header(encode_header(h)) == h. Throws Error for bytes encode_header did not make.
std::vector<std::uint8_t> encode_header(const Header& header);
Header decode_header(std::span<const std::uint8_t> bytes);

}  // namespace mpimerge::storage::safetensors
