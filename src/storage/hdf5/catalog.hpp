#pragma once
// What an HDF5 checkpoint holds, read from its metadata by one process with serial HDF5 and
// checked before any tensor is read: every dataset's type, dataspace, layout, filters and storage,
// and the mpimerge attributes, each checked for class, size and dataspace before it is read.
// Serial HDF5 only (no MPI): the reader spreads the datasets over the ranks, each reading its part
// through its own handle and sending it (encode/decode below), and the fuzzer of fuzz/ drives it
// on file images in memory. See docs/checkpoint-format.md.
#include <hdf5.h>

#include <cstdint>
#include <functional>
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

// A catalog is read from two listings. The first lists the root group's links alone
// (H5Literate: no object header is read, a tenth of a second for 100k links where visiting every
// object costs seconds); the readers open each object, and where none is a group, that is the
// catalog. Otherwise (nested names such as "encoder/layer.0/weight") the second lists every
// dataset of the file (list_datasets), and the readers read those the first did not reach. The
// first defect of the root's listing is reported before any group is looked into: the same
// defect at any number of readers.

// An object of a listing: its path, and the address of its header, which opens it without
// looking the path up among the group's names (100k objects of one group opened in a small test
// program: 2.6 s by address, 3.5 s by name).
struct ListedObject {
  std::string name;
  haddr_t address = HADDR_UNDEF;
  bool operator==(const ListedObject&) const = default;
};
using Listing = std::vector<ListedObject>;

// The root group's hard links (each object once, in creation order where tracked, else by name);
// refuses external links there. Throws CatalogDefect (position 0).
Listing list_root(hid_t file, const std::string& path);

// Every dataset of the file, each once, in the order of a depth-first visit (creation order where
// every group tracks it, else by name); refuses external links anywhere. Throws CatalogDefect
// (position 0).
Listing list_datasets(hid_t file, const std::string& path);

// One share of a listing, for ranks to read a file's metadata side by side: of the objects at
// positions part, part + parts, ... of the listing, the datasets (with their positions and their
// mpimerge_order attributes, when they have one) and the groups. Other objects (named types) are
// no tensors.
struct CatalogPart {
  std::uint64_t listed = 0;                        // entries in the whole listing
  std::vector<std::uint64_t> positions;            // of the datasets below, ascending
  std::vector<CatalogTensor> tensors;
  std::vector<std::optional<std::int64_t>> order;  // per dataset
  std::vector<std::uint64_t> groups;               // positions of groups
  bool operator==(const CatalogPart&) const = default;
};

// Reads one share of a listing. Throws CatalogDefect at the first defective object of
// the share.
CatalogPart read_catalog_part(hid_t file, const std::string& path, std::uint64_t file_size, bool checksums,
                              const Listing& listing, std::uint64_t part, std::uint64_t parts);

// How the two listings are made and read (see above): by one process (read_catalog), or by ranks
// side by side (reader.cpp). list(false) is list_root, list(true) list_datasets; read(listing)
// returns every part of that listing. Both give every caller the same result or throw.
struct CatalogSteps {
  std::function<Listing(bool whole)> list;
  std::function<std::vector<CatalogPart>(const Listing& listing)> read;
};

// The catalog the steps read, in the written order where every dataset records one, else the
// listing's. Throws what the steps throw, or Error when the parts do not fit together.
Catalog assemble_catalog(const CatalogSteps& steps, std::uint64_t file_size);

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
