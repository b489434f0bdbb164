#include "storage/hdf5/names.hpp"

#include <hdf5.h>

#include <unordered_set>

#include "mpimerge/util/format.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

std::string quoted(const std::string& name) { return "tensor '" + printable(name) + "'"; }

// Why HDF5 would read this path back as another name, or "".
std::string path_problem(const std::string& name) {
  if (name.empty()) return "a tensor with an empty name";
  if (name.find('\0') != std::string::npos) return quoted(name) + ": a NUL character in its name";
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty())
      return quoted(name) + ": a leading, trailing or doubled '/' (HDF5 reads '/' as a separator of groups, and "
                            "would read the name back without it)";
    if (part == ".")
      return quoted(name) + ": a part '.' between slashes (HDF5 reads it as the group itself)";
    if (slash == std::string::npos) return "";
    start = slash + 1;
  }
}

}  // namespace

std::string unwritable_in_hdf5(const std::vector<TensorInfo>& tensors) {
  std::unordered_set<std::string> names;
  for (const TensorInfo& t : tensors) {
    if (std::string problem = path_problem(t.name); !problem.empty()) return problem;
    if (t.shape.size() > H5S_MAX_RANK)
      return quoted(t.name) + ": " + std::to_string(t.shape.size()) + " dimensions (HDF5 holds at most " +
             std::to_string(H5S_MAX_RANK) + ")";
    names.insert(t.name);
  }
  // A name that is the group of another: "p" beside "p/q".
  for (const TensorInfo& t : tensors)
    for (std::size_t slash = t.name.find('/'); slash != std::string::npos; slash = t.name.find('/', slash + 1))
      if (names.count(t.name.substr(0, slash)))
        return quoted(t.name.substr(0, slash)) + " beside " + quoted(t.name) + " (HDF5 would need '" +
               printable(t.name.substr(0, slash)) + "' to be a dataset and a group at once)";
  return "";
}

}  // namespace mpimerge::storage::hdf5
