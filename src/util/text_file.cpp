#include "mpimerge/util/text_file.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "mpimerge/error.hpp"

namespace mpimerge {

std::string read_text_file(const std::string& path, const std::string& what, std::size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw UsageError(what + " '" + path + "' does not exist");
  if (S_ISDIR(st.st_mode)) throw UsageError(what + " '" + path + "' is a directory, not a file");
  if (!S_ISREG(st.st_mode))
    throw UsageError(what + " '" + path + "' is not a regular file (a FIFO, a device or a socket): give a file");
  if (static_cast<std::size_t>(st.st_size) > max_bytes)
    throw UsageError(what + " '" + path + "' has " + std::to_string(st.st_size) + " bytes: too large (at most " +
                     std::to_string(max_bytes) + ")");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(what + " '" + path + "' cannot be read");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace mpimerge
