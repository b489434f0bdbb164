#include "durability/ownership.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kManifestStart = "{\"mpimerge_manifest\":1,";
constexpr std::string_view kReportStart = "{\n  \"mpimerge_version\":";

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The file starts with `start`, or is empty (a run killed before writing it), or is cut short
// within `start` (killed while writing it).
bool starts_as(const std::string& path, std::string_view start) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return false;
  std::string head(start.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return start.substr(0, head.size()) == head && (!head.empty() || in.eof());
}

bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

std::string listing(const std::vector<std::string>& names) {
  std::string text;
  const std::size_t shown = std::min<std::size_t>(names.size(), 4);
  for (std::size_t i = 0; i < shown; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
  return text;
}

// Entry names of a directory, sorted, directories with a trailing '/'.
std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    names.push_back(entry.path().filename().string() + (entry.is_directory(ec) && !entry.is_symlink(ec) ? "/" : ""));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::string Manifest::path_for(const std::string& output) { return without_trailing_slashes(output) + ".manifest.json"; }

Manifest Manifest::describe(const std::string& path, const std::string& output_name) {
  Manifest m;
  m.output = output_name;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw Error(path + ": cannot be listed: " + std::strerror(errno));
  m.directory = S_ISDIR(st.st_mode);
  if (!m.directory) {
    m.files.push_back({"", static_cast<std::uint64_t>(st.st_size), mtime_ns(st)});
    return m;
  }
  for (const std::string& name : entries_of(path)) {
    struct stat f {};
    const std::string file = (fs::path(path) / name).string();
    if (::lstat(file.c_str(), &f) != 0 || !S_ISREG(f.st_mode))
      throw Error(path + ": holds '" + name + "', which is not a file mpimerge wrote");
    m.files.push_back({name, static_cast<std::uint64_t>(f.st_size), mtime_ns(f)});
  }
  return m;
}

std::optional<Manifest> Manifest::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().rfind(kManifestStart, 0) != 0) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(text.str());
    Manifest m;
    m.output = j.at("output").get<std::string>();
    m.directory = j.at("directory").get<bool>();
    for (const auto& f : j.at("files"))
      m.files.push_back({f.at("name").get<std::string>(), f.at("bytes").get<std::uint64_t>(), f.at("mtime_ns").get<std::int64_t>()});
    return m;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // damaged, or cut short by a kill: proves nothing
  }
}

void Manifest::write(const std::string& path) const {
  nlohmann::ordered_json j;
  j["mpimerge_manifest"] = 1;
  j["output"] = output;
  j["directory"] = directory;
  j["files"] = nlohmann::ordered_json::array();
  for (const ManifestFile& f : files) j["files"].push_back({{"name", f.name}, {"bytes", f.bytes}, {"mtime_ns", f.mtime_ns}});
  const std::string text = j.dump() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot write the output's manifest: " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) throw Error(path + ": cannot write the output's manifest: " + std::strerror(saved));
}

bool is_manifest_file(const std::string& path) { return starts_as(path, kManifestStart); }
bool is_report_file(const std::string& path) { return starts_as(path, kReportStart); }

std::optional<std::string> report_output(const std::string& path) {
  if (!is_report_file(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  try {
    const auto j = nlohmann::json::parse(in);
    return j.at("output").at("path").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string describe_what_is_at(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "nothing";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    return "a symbolic link to " + fs::read_symlink(path, ec).string();
  }
  if (S_ISDIR(st.st_mode)) {
    const auto names = entries_of(path);
    return names.empty() ? "an empty directory" : "a directory holding " + listing(names);
  }
  return "a file of " + std::to_string(st.st_size) + " bytes";
}

std::string why_not_owned(const std::string& output_path) {
  const std::string output = without_trailing_slashes(output_path);
  struct stat st {};
  if (::lstat(output.c_str(), &st) != 0) return "";
  const std::string what = describe_what_is_at(output);
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return what;
  const std::string manifest_path = Manifest::path_for(output);
  const std::optional<Manifest> manifest = Manifest::load(manifest_path);
  if (!manifest) return what + ", and no manifest of mpimerge's beside it (" + manifest_path + ")";
  if (manifest->output != fs::path(output).filename().string() || manifest->directory != S_ISDIR(st.st_mode))
    return what + ", which " + manifest_path + " does not describe";
  if (!manifest->directory) {
    if (manifest->files.size() != 1 || manifest->files[0].bytes != static_cast<std::uint64_t>(st.st_size) ||
        manifest->files[0].mtime_ns != mtime_ns(st))
      return what + ", changed after mpimerge wrote it";
    return "";
  }
  std::vector<std::string> foreign, changed;
  for (const std::string& name : entries_of(output)) {
    const auto listed = std::find_if(manifest->files.begin(), manifest->files.end(),
                                     [&](const ManifestFile& f) { return f.name == name && plain_name(f.name); });
    if (listed == manifest->files.end()) {
      foreign.push_back(name);
      continue;
    }
    struct stat f {};
    const std::string file = (fs::path(output) / name).string();
    if (::lstat(file.c_str(), &f) != 0 || !S_ISREG(f.st_mode) || listed->bytes != static_cast<std::uint64_t>(f.st_size) ||
        listed->mtime_ns != mtime_ns(f))
      changed.push_back(name);
  }
  if (!foreign.empty()) return "a directory holding " + listing(foreign) + ", which mpimerge did not write";
  if (!changed.empty()) return "a directory whose " + listing(changed) + " changed after mpimerge wrote it";
  return "";
}

void remove_owned_output(const std::string& output_path) {
  const std::string output = without_trailing_slashes(output_path);
  const std::string why = why_not_owned(output);
  if (!why.empty()) throw UsageError("output '" + output + "' is not one mpimerge wrote: " + why);
  const std::optional<Manifest> manifest = Manifest::load(Manifest::path_for(output));
  std::error_code ec;
  if (manifest && manifest->directory) {
    for (const ManifestFile& f : manifest->files)
      if (plain_name(f.name) && !fs::remove(fs::path(output) / f.name, ec) && ec)
        throw Error("cannot remove " + (fs::path(output) / f.name).string() + ": " + ec.message());
  }
  if (!fs::remove(output, ec) && ec) throw Error("cannot remove the old output " + output + ": " + ec.message());
  fs::remove(Manifest::path_for(output), ec);
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace mpimerge
