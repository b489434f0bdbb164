#pragma once
// `mpimerge verify OUTPUT`: recomputes every tensor's checksum (checksum.hpp), in parallel, and
// compares it with the one recorded at merge time: in the file (HDF5 attribute) or else in the
// report beside it. Collective.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mpimerge::mpi {
class Comm;
}

namespace mpimerge {

struct VerifiedTensor {
  std::string name;
  std::uint64_t computed = 0;
  std::optional<std::uint64_t> recorded;
  bool ok() const { return recorded && *recorded == computed; }
};

struct VerifyReport {
  std::string path, source;  // where the recorded checksums came from
  std::vector<VerifiedTensor> tensors;
  std::vector<std::string> missing;  // recorded tensors the file lacks
  bool ok() const;
};

// report_path: where to look for recorded checksums when the file has none ("" = beside it).
VerifyReport verify_checkpoint(const std::string& path, const std::string& report_path, const mpi::Comm& comm);
std::string format_verify(const VerifyReport& report);

}  // namespace mpimerge
