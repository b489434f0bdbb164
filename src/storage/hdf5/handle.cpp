#include "storage/hdf5/handle.hpp"

#include "mpimerge/error.hpp"

namespace mpimerge::storage::hdf5 {
namespace {

herr_t keep_innermost(unsigned, const H5E_error2_t* entry, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (out->empty() && entry->desc && *entry->desc) *out = entry->desc;
  return 0;
}

}  // namespace

std::mutex& hdf5_library_lock() {
  static std::mutex lock;
  return lock;
}

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string hdf5_error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

void check(herr_t status, const std::string& what) {
  if (status >= 0) return;
  const std::string detail = hdf5_error_detail();
  throw Error(what + (detail.empty() ? "" : ": " + detail));
}

}  // namespace mpimerge::storage::hdf5
