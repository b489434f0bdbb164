#pragma once
// What an HDF5 checkpoint holds, read from its metadata by one process with serial HDF5 and
// checked before any tensor is read: every dataset's type, dataspace, layout, filters and storage,
// and the mpimerge attributes, each checked for class, size and dataspace before it is read.
// Serial HDF5 only (no MPI): the reader spreads the datasets over the ranks, each reading its part
// through its own handle and sending it (encode/decode below), and the fuzzer of fuzz/ drives it
// on file images in memory. See docs/checkpoint-format.md.
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mpimerge/error.hpp"
#include "mpimerge/tensor.hpp"

namespace mpimerge::storage::hdf5 {

// How a tensor's bytes are read.
enum class Access : std::uint8_t {
  // Contiguous, unfiltered, in the file itself, with exactly the little-endian layout the program
  // computes on: bytes [offset, offset + bytes()) of the file, read as plain byte ranges.
  raw = 0,
  // Through HDF5 (chunked, compact, filtered, another byte order, or never written: fill values).
  hdf5 = 1,
  // Nothing to read: the tensor has no elements (a zero-sized dimension such as [5, 0]).
  none = 2,
};

struct CatalogTensor {
  TensorInfo info;
  Access access = Access::hdf5;
  std::uint64_t offset = 0;               // raw: where its bytes start in the file
  std::optional<std::uint64_t> checksum;  // the mpimerge_checksum attribute, when asked for and recorded
  bool operator==(const CatalogTensor&) const = default;
};

struct Catalog {
  std::uint64_t file_size = 0;          // the size every check was made against
  std::vector<CatalogTensor> tensors;   // in the checkpoint's order
  bool operator==(const Catalog&) const = default;
};

// A defect of the file, found reading its catalog: an InputError that also says where in the
// file's listing of datasets it lies (0: the file as a whole), so that ranks reading different
// parts agree on the first, as one process reading them in turn would.
class CatalogDefect : public InputError {
 public:
  CatalogDefect(const std::string& message, std::uint64_t position) : InputError(message), position(position) {}
  std::uint64_t position;
};

// One share of a catalog, for ranks to read a file's metadata side by side: the datasets at
// positions part, part + parts, ... of the file's listing, in that order, each with its
// mpimerge_order attribute (when it has one).
struct CatalogPart {
  std::uint64_t listed = 0;  // datasets in the whole listing
  std::vector<CatalogTensor> tensors;
  std::vector<std::optional<std::int64_t>> order;
  bool operator==(const CatalogPart&) const = default;
};

// Reads one share (read_catalog below, for the positions of part). Throws CatalogDefect.
CatalogPart read_catalog_part(hid_t file, const std::string& path, std::uint64_t file_size, bool checksums,
                              std::uint64_t part, std::uint64_t parts);

// The catalog from all of its parts, parts[p] read as part p of parts.size(): in the written
// order where every dataset records one, else the listing's.
Catalog join_catalog_parts(std::vector<CatalogPart> parts, std::uint64_t file_size);

// Reads the catalog of an open file of file_size bytes. With checksums, also each dataset's
// mpimerge_checksum attribute; without, that attribute is never opened (a merge does not need
// it). Throws InputError naming the file, the tensor and what is wrong with it for anything it does
// not read: a virtual dataset, external storage, a filter this HDF5 library lacks, an unsupported
// type, data past the end of the file, a malformed attribute, an external link...
Catalog read_catalog(hid_t file, const std::string& path, std::uint64_t file_size, bool checksums);

// Opens path read-only with HDF5's serial driver and reads its catalog.
Catalog read_catalog(const std::string& path, bool checksums);

// Opens path read-only with HDF5's serial driver (for Access::hdf5 reads). Throws InputError.
hid_t open_serial(const std::string& path);

// Reads rows of a tensor through HDF5 (Access::hdf5) as little-endian elements of its dtype.
// Throws Error naming the file and tensor.
void read_rows_hdf5(hid_t file, const std::string& path, const TensorInfo& tensor, RowRange rows,
                    std::span<std::uint8_t> out);

// The catalog as bytes, to broadcast it; decode_catalog(encode_catalog(c)) == c.
std::vector<std::uint8_t> encode_catalog(const Catalog& catalog);
Catalog decode_catalog(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> encode_catalog_part(const CatalogPart& part);
CatalogPart decode_catalog_part(std::span<const std::uint8_t> bytes);

}  // namespace mpimerge::storage::hdf5
