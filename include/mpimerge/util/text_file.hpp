#pragma once
// Small text files a user gives (job files, sweep files), read whole.
#include <cstddef>
#include <string>

namespace mpimerge {

// The file's text. Refused with a UsageError naming `what` and the path, before anything opens
// it, unless it is a regular file (a FIFO would block the read forever, a device never end), and
// refused when it is larger than max_bytes (a job file is a few kB).
std::string read_text_file(const std::string& path, const std::string& what, std::size_t max_bytes = std::size_t{1} << 20);

}  // namespace mpimerge
