#include "storage/remote_reference.hpp"

#include <filesystem>
#include <regex>

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

// A Hub id is ORG/NAME (each [A-Za-z0-9._-], at most 96 characters), maybe with @REVISION. A
// local path that happens to look like one (out/merged) is told apart by its directory: a Hub id's
// organisation is not a local directory. Checkpoint file names (.h5, .safetensors, ...) are paths.
bool looks_like_hub_id(const std::string& path) {
  static const std::regex id(R"([A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}(@[A-Za-z0-9._/-]+)?)");
  if (!std::regex_match(path, id)) return false;
  static const std::regex file(R"(.*\.(h5|hdf5|safetensors|json|bin|pt|pth|ckpt|gguf)(@.*)?)");
  if (std::regex_match(path, file)) return false;
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
