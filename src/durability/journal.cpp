#include "durability/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mpimerge/checksum.hpp"
#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

// Appends one line and syncs it: the journal never claims more than the disk holds.
void append_line(const std::string& path, const std::string& line, bool truncate) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | (truncate ? O_TRUNC : 0), 0644);
  if (fd < 0) throw Error(path + ": cannot write the resume journal: " + std::strerror(errno));
  const std::string text = line + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) throw Error(path + ": cannot write the resume journal: " + std::strerror(saved));
}

}  // namespace

std::string Journal::path_for(const std::string& output) {
  std::string out = output;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + ".partial.journal";
}

void Journal::start(const std::string& path, const std::string& fingerprint, const nlohmann::ordered_json& inputs) {
  nlohmann::ordered_json header{{"journal", 1}, {"fingerprint", fingerprint}, {"inputs", inputs}};
  append_line(path, header.dump(), true);
}

bool Journal::is_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return false;
  std::string head(std::string_view(kHeaderStart).size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  // Empty: a run killed before its header was written, which holds nothing.
  return (in.gcount() == 0 && in.eof()) || (in && head == kHeaderStart);
}

void Journal::append_state(const std::string& path, const std::string& state) {
  append_line(path, nlohmann::json{{"method_state", state}}.dump(), false);
}

void Journal::append_done(const std::string& path, const std::map<std::string, std::uint64_t>& tensors) {
  nlohmann::json done = nlohmann::json::object();
  for (const auto& [name, checksum] : tensors) done[name] = checksum_hex(checksum);
  append_line(path, nlohmann::json{{"done", done}}.dump(), false);
}

std::optional<JournalContents> Journal::load(const std::string& path, const mpi::Comm& comm) {
  std::string text = "-";  // "-": no journal; else "+" and its text
  if (comm.is_root()) {
    std::ifstream in(path);
    if (in) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      text.assign(1, '+');
      text.append(buffer.str());
    }
  }
  comm.broadcast(text);
  if (text == "-") return std::nullopt;
  text.erase(0, 1);
  JournalContents contents;
  std::istringstream lines(text);
  std::string line;
  bool first = true;
  while (std::getline(lines, line)) {
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      if (lines.peek() == EOF) break;  // a torn last line: written when the crash came
      throw InputError(path + ": the resume journal is damaged");
    }
    if (first) {
      if (!record.contains("fingerprint")) throw InputError(path + ": not a resume journal");
      contents.fingerprint = record["fingerprint"].get<std::string>();
      if (record.contains("inputs")) contents.inputs = record["inputs"];
      first = false;
    } else if (record.contains("method_state")) {
      contents.method_state = record["method_state"].get<std::string>();
    } else if (record.contains("done")) {
      for (const auto& [name, hex] : record["done"].items()) contents.done[name] = parse_checksum_hex(hex.get<std::string>());
    }
  }
  if (first) return std::nullopt;  // empty: the crash came before the header
  return contents;
}

}  // namespace mpimerge
