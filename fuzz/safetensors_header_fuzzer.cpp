// Fuzzes parse_header with the input as a whole .safetensors file. A header it accepts must also
// survive a round trip: build_header over the parsed tensors, laid out back to back, parses again
// to the same names, dtypes and shapes; and it must hold what a JSON parser's document holds
// (parse_header reads the header in one SAX pass, without a document). Only mpimerge::Error may
// escape the parser; anything else (another exception, a crash, a sanitizer report, a leak) is a
// finding.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"
#include "storage/safetensors/header.hpp"

using namespace mpimerge::storage::safetensors;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> file(data, size);
  Header header;
  try {
    header = parse_header(file, size, "fuzz.safetensors");
  } catch (const mpimerge::Error&) {
    return 0;  // refused, as it should be: the message is the program's one-line error
  }
  // What the document says, entry by entry (valid JSON, or parse_header threw).
  const std::string_view text(reinterpret_cast<const char*>(data) + 8, header.json_bytes);
  const nlohmann::json document = nlohmann::json::parse(text);
  if (document.size() != header.tensors.size() + (document.contains("__metadata__") ? 1 : 0)) std::abort();
  for (const TensorEntry& t : header.tensors) {
    const nlohmann::json& entry = document.at(t.info.name);
    if (entry.at("shape").get<std::vector<std::uint64_t>>() != t.info.shape) std::abort();
    if (entry.at("data_offsets").get<std::vector<std::uint64_t>>() != std::vector<std::uint64_t>{t.begin, t.end}) std::abort();
    if (entry.at("dtype").get<std::string>() != dtype_name(t.info.dtype)) std::abort();
  }
  if (document.contains("__metadata__")) {
    const nlohmann::json& metadata = document["__metadata__"];
    if (metadata.size() != header.metadata.size()) std::abort();
    for (const auto& [key, value] : header.metadata)
      if (metadata.at(key).get<std::string>() != value) std::abort();
  }
  std::vector<mpimerge::TensorInfo> infos;
  std::uint64_t data_bytes = 0;
  for (const TensorEntry& t : header.tensors) {
    infos.push_back(t.info);
    data_bytes += t.end - t.begin;
  }
  if (data_bytes > size) std::abort();  // accepted tensors that the file cannot hold
  std::vector<std::uint8_t> rebuilt = build_header(infos, header.metadata);
  rebuilt.resize(rebuilt.size() + data_bytes);
  const Header again = parse_header(rebuilt, rebuilt.size(), "rebuilt.safetensors");  // must not throw
  if (again.tensors.size() != header.tensors.size() || again.metadata != header.metadata) std::abort();
  for (std::size_t i = 0; i < infos.size(); ++i)
    if (!(again.tensors[i].info == infos[i])) std::abort();
  return 0;
}
