#pragma once
// mergekit's configs name models that are not local directories: Hugging Face Hub ids
// ("meta-llama/Llama-3.1-8B", "org/name@revision") that mergekit downloads, and "model+lora"
// references it merges a LoRA adapter into first. mpimerge reads local checkpoints only; a path
// that does not exist and reads as one of these gets one line saying what to do instead.
#include <string>

namespace mpimerge::storage {

// For a path that does not exist: "" when it reads as a plain local path; otherwise why it is not
// one and what to do instead, for the end of the error line ("it looks like a Hugging Face Hub
// id, ..."). Looks at the file system only to see which parts exist.
std::string not_local_reason(const std::string& path);

}  // namespace mpimerge::storage
