#include "durability/file_identity.hpp"

#include <sys/stat.h>

namespace mpimerge {
namespace {

std::int64_t nanoseconds(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(t.tv_nsec);
}

}  // namespace

nlohmann::ordered_json FileIdentity::to_json() const {
  return {{"inode", inode}, {"bytes", bytes}, {"mtime_ns", mtime_ns}, {"ctime_ns", ctime_ns}};
}

FileIdentity FileIdentity::from_json(const nlohmann::json& j) {
  FileIdentity id;
  id.inode = j.at("inode").get<std::uint64_t>();
  id.bytes = j.at("bytes").get<std::uint64_t>();
  id.mtime_ns = j.at("mtime_ns").get<std::int64_t>();
  id.ctime_ns = j.at("ctime_ns").get<std::int64_t>();
  return id;
}

bool FileIdentity::same_across_runs(const FileIdentity& other) const {
  return inode == other.inode && bytes == other.bytes && mtime_ns == other.mtime_ns && ctime_ns == other.ctime_ns;
}

std::optional<FileIdentity> identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  FileIdentity id;
  id.device = static_cast<std::uint64_t>(st.st_dev);
  id.inode = static_cast<std::uint64_t>(st.st_ino);
  id.bytes = static_cast<std::uint64_t>(st.st_size);
  id.mtime_ns = nanoseconds(st.st_mtim);
  id.ctime_ns = nanoseconds(st.st_ctim);
  return id;
}

std::string describe_change(const FileIdentity& was, const std::optional<FileIdentity>& now, bool across_runs) {
  if (!now) return "it is gone";
  if ((!across_runs && now->device != was.device) || now->inode != was.inode) return "it was replaced by another file";
  if (now->bytes != was.bytes)
    return "its size went from " + std::to_string(was.bytes) + " to " + std::to_string(now->bytes) + " bytes";
  if (now->mtime_ns != was.mtime_ns) return "it was modified";
  if (now->ctime_ns != was.ctime_ns) return "its status changed (touched, chmod, linked)";
  return "unchanged";
}

}  // namespace mpimerge
