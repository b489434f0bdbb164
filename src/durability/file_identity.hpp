#pragma once
// What identifies a file's contents without reading them: the device and inode it lives in, its
// size, and its modification and status-change times to the nanosecond. A file replaced (another
// inode), rewritten in place (mtime), truncated (size) or touched in any way that keeps the mtime
// (utime sets ctime) no longer has the identity it had.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mpimerge {

struct FileIdentity {
  std::uint64_t device = 0, inode = 0, bytes = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;

  // The identity without the device, for comparing across runs: a network file system's device
  // number is given at mount time and differs between the nodes of a cluster.
  nlohmann::ordered_json to_json() const;
  static FileIdentity from_json(const nlohmann::json& j);
  bool same_across_runs(const FileIdentity& other) const;
};

// stat() of the path (following links, as the readers open it); nullopt when it cannot be stat'ed.
std::optional<FileIdentity> identity_of(const std::string& path);

// How `now` differs from `was`, for an error message: "its size went from 100 to 0 bytes",
// "it was replaced by another file", "it was modified", "its status changed", "it is gone".
std::string describe_change(const FileIdentity& was, const std::optional<FileIdentity>& now, bool across_runs = false);

}  // namespace mpimerge
