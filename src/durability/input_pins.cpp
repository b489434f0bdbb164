#include "durability/input_pins.hpp"

#include <filesystem>
#include <optional>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace fs = std::filesystem;
namespace {

std::string key_of(const std::string& path) { return fs::path(path).lexically_normal().string(); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "model 2 'dir/'" for the input itself; "model 2 'dir/': shard-00002.safetensors" for a file of it.
std::string name_of(const PinnedFile& f) {
  std::string text = f.role + " '" + f.input + "'";
  if (key_of(f.file) != key_of(f.input)) text += ": " + fs::path(f.file).filename().string();
  return text;
}

}  // namespace

InputPins::Snapshot InputPins::before_open(const std::string& path) {
  Snapshot snapshot;
  std::error_code ec;
  std::optional<fs::path> dir;
  if (fs::is_directory(path, ec)) dir = path;
  else if (ends_with(path, ".index.json")) dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : ".";
  if (dir) {
    for (const auto& entry : fs::directory_iterator(*dir, ec))
      if (entry.is_regular_file(ec))
        if (const auto id = identity_of(entry.path().string())) snapshot[key_of(entry.path().string())] = *id;
  }
  if (const auto id = identity_of(path); id && !fs::is_directory(path, ec)) snapshot[key_of(path)] = *id;
  return snapshot;
}

void InputPins::pin(const std::string& role, const storage::CheckpointReader& reader, const Snapshot& before) {
  for (const std::string& file : reader.files()) {
    PinnedFile pinned{role, reader.path(), file, {}};
    const auto now = identity_of(file);
    if (!now) throw InputError(name_of(pinned) + " is gone: it was removed while the merge opened it");
    const auto then = before.find(key_of(file));
    if (then != before.end() && !(then->second == *now))
      throw InputError(name_of(pinned) + " changed while the merge opened it (" + describe_change(then->second, now) +
                       ")");
    pinned.identity = *now;
    files_.push_back(std::move(pinned));
  }
}

void InputPins::check(const mpi::Comm& comm) const {
  mpi::run_agreed(comm, [&] {
    for (const PinnedFile& f : files_) {
      const auto now = identity_of(f.file);
      if (!now || !(*now == f.identity))
        throw InputError(name_of(f) + " changed while the merge read it (" + describe_change(f.identity, now) +
                         "): the output would mix its old and new bytes, so none is written");
    }
  });
}

}  // namespace mpimerge
