#pragma once
// Why a write may have failed, for the error message: MPI-IO and HDF5 report a full disk as a
// generic failure ("MPI_ERR_OTHER", "file write failed"), so the writers ask the file system.
#include <string>

namespace mpimerge {

// " (no space left on device: N bytes free on the file system of PATH)" when the file system that
// holds path (a file, or a directory's parent) is (nearly) full, else "".
std::string disk_full_note(const std::string& path);

// Allocates the file's first `bytes` on disk now (Linux fallocate, which extends the file to at
// least that size), so that a disk too small for the output fails here, at once and on one rank,
// instead of in the middle of collective writes: MPI-IO (OMPIO) reports a full disk to some ranks
// only, or not at all. Throws Error naming the file when there is no room; does nothing on file
// systems without fallocate (the writes' own errors remain).
void reserve_space(const std::string& path, std::uint64_t bytes);

}  // namespace mpimerge
