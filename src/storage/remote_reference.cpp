#include "storage/remote_reference.hpp"

#include <filesystem>
#include <string_view>

namespace mpimerge::storage {
namespace fs = std::filesystem;
namespace {

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// The name a download gets: the repository's, without the organisation and revision.
std::string repository_name(const std::string& id) {
  const std::string name = id.substr(id.find('/') + 1);
  return name.substr(0, name.find('@'));
}

bool hub_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// One part of a Hub id: 1 to 96 of [A-Za-z0-9._-], starting with a letter or digit.
bool hub_name(std::string_view part) {
  if (part.empty() || part.size() > 96 || !hub_name_char(part[0]) || part[0] == '.' || part[0] == '_' || part[0] == '-')
    return false;
  for (char c : part)
    if (!hub_name_char(c)) return false;
  return true;
}

// A Hub id is ORG/NAME (each as hub_name says), maybe with @REVISION ([A-Za-z0-9._/-]+). A local
// path that happens to look like one (out/merged) is told apart by its directory: a Hub id's
// organisation is not a local directory. Checkpoint file names (.h5, .safetensors, ...) are paths.
// (Plain string checks: std::regex trips GCC 12's uninitialised-use warnings under -O1 with ASan.)
bool looks_like_hub_id(const std::string& path) {
  const std::string_view text(path);
  const auto at = text.find('@');
  const std::string_view id = text.substr(0, at);
  if (at != std::string_view::npos) {
    const std::string_view revision = text.substr(at + 1);
    if (revision.empty()) return false;
    for (char c : revision)
      if (!hub_name_char(c) && c != '/') return false;
  }
  const auto slash = id.find('/');
  if (slash == std::string_view::npos || !hub_name(id.substr(0, slash)) || !hub_name(id.substr(slash + 1))) return false;
  for (const char* extension : {".h5", ".hdf5", ".safetensors", ".json", ".bin", ".pt", ".pth", ".ckpt", ".gguf"}) {
    const std::string_view ext(extension);
    if (id.size() >= ext.size() && id.substr(id.size() - ext.size()) == ext) return false;
  }
  return !exists(path.substr(0, path.find('/')));
}

}  // namespace

std::string not_local_reason(const std::string& path) {
  // mergekit's "model+lora": a model, and a LoRA adapter to merge into it first.
  if (const auto plus = path.find('+'); plus != std::string::npos && plus > 0 && plus + 1 < path.size()) {
    const std::string model = path.substr(0, plus), lora = path.substr(plus + 1);
    return "'" + path + "' is mergekit's model+LoRA reference, and mpimerge reads merged checkpoints only: merge the "
           "LoRA '" + lora + "' into '" + model + "' first (with PEFT: PeftModel.from_pretrained(model, lora)"
           ".merge_and_unload().save_pretrained(DIR)) and give that directory";
  }
  if (looks_like_hub_id(path))
    return "it looks like a Hugging Face Hub id, and mpimerge reads local checkpoints only: download it first "
           "(huggingface-cli download " + path.substr(0, path.find('@')) +
           (path.find('@') == std::string::npos ? "" : " --revision " + path.substr(path.find('@') + 1)) +
           " --local-dir " + repository_name(path) + ") and give that directory";
  return "";
}

}  // namespace mpimerge::storage
