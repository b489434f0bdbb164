#pragma once
// What mpimerge may remove or replace: only what it can prove it wrote. An output it wrote carries
// a manifest beside it, "<output>.manifest.json": the output's name and, for each file it wrote
// (the output file; each file of a Hugging Face directory), its name, size and modification time.
// An existing output is replaced (--overwrite) only when the manifest describes exactly what is
// there, and then only the files the manifest lists are removed. Its other files (the report, the
// journal, the lock) are recognised by their contents.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mpimerge {

struct ManifestFile {
  std::string name;  // "" for a single-file output (the output itself); else a file of the directory
  std::uint64_t bytes = 0;
  std::int64_t mtime_ns = 0;
};

struct Manifest {
  std::string output;  // the output's file name, without its directory
  bool directory = false;
  std::vector<ManifestFile> files;

  static std::string path_for(const std::string& output);
  // What is at `path` now (a file, or a directory of regular files): the manifest it would get.
  // Throws Error when the directory holds something else than regular files.
  static Manifest describe(const std::string& path, const std::string& output_name);
  // nullopt when the file is not a manifest this program wrote.
  static std::optional<Manifest> load(const std::string& path);
  // Writes it to `path` durably (synced), replacing what is there.
  void write(const std::string& path) const;
};

// Whether the file is a manifest (or empty: a run killed while writing it).
bool is_manifest_file(const std::string& path);
// Whether the file is a JSON report this program wrote (or empty, or cut short by a kill).
bool is_report_file(const std::string& path);
// The output a report this program wrote describes (its "output"."path"); nullopt otherwise.
std::optional<std::string> report_output(const std::string& path);

// "" when the output at `output` is one this program wrote and nothing else: its manifest lists
// exactly what is there, with the sizes and times it wrote. Otherwise what is there, for the
// refusal: "a directory holding notes.txt, other-model/", "a character device", "a file of 12
// bytes (no manifest beside it)", "a directory whose config.json changed after mpimerge wrote it".
std::string why_not_owned(const std::string& output);

// For people: "a character device", "a FIFO", "a symbolic link to X", "a directory holding a, b/",
// "an empty directory", "a file of N bytes".
std::string describe_what_is_at(const std::string& path);

// Removes an output that why_not_owned() accepted: the files its manifest lists, then the
// directory. Rank 0 only. Throws Error when something cannot be removed.
void remove_owned_output(const std::string& output);

// Syncs the directory (a rename in it becomes durable); errors are ignored.
void sync_directory(const std::string& dir);

}  // namespace mpimerge
