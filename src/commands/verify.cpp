#include "mpimerge/commands/verify.hpp"

#include <filesystem>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mpimerge/checksum.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "storage/input_file.hpp"

namespace mpimerge {
namespace {

std::string default_report(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path + ".report.json";
}

// Checksums from a report: {"checksums": {name: hex}}. Read on every rank (a small file).
std::vector<std::pair<std::string, std::uint64_t>> report_checksums(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) storage::require_regular_file(path);  // a FIFO would block the open
  std::ifstream in(path);
  if (!in) throw InputError("no checksums recorded: the file has none and there is no report at " + path);
  nlohmann::json report;
  try {
    in >> report;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not a JSON report: " + e.what());
  }
  if (!report.contains("checksums") || !report["checksums"].is_object())
    throw InputError(path + ": the report records no checksums");
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& [name, hex] : report["checksums"].items()) {
    if (!hex.is_string()) throw InputError(path + ": checksum of '" + name + "' is not a string");
    out.emplace_back(name, parse_checksum_hex(hex.get<std::string>()));
  }
  return out;
}

}  // namespace

bool VerifyReport::ok() const {
  if (!missing.empty() || tensors.empty()) return false;
  for (const auto& t : tensors)
    if (!t.ok()) return false;
  return true;
}

VerifyReport verify_checkpoint(const std::string& path, const std::string& report_path, const mpi::Comm& comm) {
  VerifyReport report;
  report.path = path;
  std::unique_ptr<storage::CheckpointReader> reader;
  mpi::run_agreed(comm, [&] { reader = storage::open_checkpoint(path, comm, {.checksums = true}); });
  const auto& tensors = reader->tensors();
  bool in_file = false;
  for (std::size_t t = 0; t < tensors.size(); ++t) in_file = in_file || reader->stored_checksum(t).has_value();
  std::map<std::string, std::uint64_t> recorded;
  if (in_file) {
    report.source = "the file";
    for (std::size_t t = 0; t < tensors.size(); ++t)
      if (auto c = reader->stored_checksum(t)) recorded[tensors[t].name] = *c;
  } else {
    const std::string from = report_path.empty() ? default_report(path) : report_path;
    report.source = from;
    mpi::run_agreed(comm, [&] {
      for (const auto& [name, c] : report_checksums(from)) recorded[name] = c;
    });
  }
  std::vector<std::uint64_t> partial(tensors.size(), 0);
  std::vector<std::uint8_t> buffer;
  mpi::run_collective(comm, [&] {
    for (std::size_t t = 0; t < tensors.size(); ++t)
      for_each_owned_chunk(*reader, t, comm.rank(), comm.size(), buffer,
                           [&](RowRange part, std::span<const std::uint8_t> data, std::uint64_t row_bytes) {
                             partial[t] += partial_checksum(data, part.begin, row_bytes);
                           }, kChecksumChunkBytes);
  });
  comm.sum(std::span<std::uint64_t>(partial));
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    VerifiedTensor v{tensors[t].name, finish_checksum(partial[t], tensors[t]), std::nullopt};
    if (auto at = recorded.find(v.name); at != recorded.end()) {
      v.recorded = at->second;
      recorded.erase(at);
    }
    report.tensors.push_back(v);
  }
  for (const auto& [name, c] : recorded) report.missing.push_back(name);
  return report;
}

std::string format_verify(const VerifyReport& report) {
  std::string text;
  std::size_t good = 0;
  for (const auto& t : report.tensors) {
    if (t.ok()) {
      ++good;
      continue;
    }
    text += t.recorded ? "MISMATCH " + t.name + ": computed " + checksum_hex(t.computed) + ", recorded " +
                             checksum_hex(*t.recorded) + "\n"
                       : "UNRECORDED " + t.name + ": computed " + checksum_hex(t.computed) + ", none recorded\n";
  }
  for (const auto& name : report.missing) text += "MISSING " + name + ": recorded but not in the file\n";
  text += report.path + ": " + std::to_string(good) + " of " + std::to_string(report.tensors.size()) +
          " tensors match the checksums recorded in " + report.source + (report.ok() ? " (ok)\n" : " (FAILED)\n");
  return text;
}

}  // namespace mpimerge
