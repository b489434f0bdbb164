#pragma once
// The files beside the weights that make a Hugging Face directory loadable with from_pretrained:
// config.json, generation_config.json and the tokenizer's files.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpimerge/dtype.hpp"

namespace mpimerge::storage::safetensors {

// Whether a file of this name in a model directory is one to carry over (config, generation
// config, tokenizer files, chat template); weights and indexes are not.
bool is_model_file(std::string_view name);

// config.json's text with its dtype fields ("torch_dtype" and/or "dtype", whichever it has) set to
// the torch name of dtype ("bfloat16", ...). Written as transformers writes configs (indent 2).
std::string config_with_dtype(std::string_view config_text, DType dtype, std::string_view path);

// config.json's text for an output directory: without "transformers_weights", which names the
// input's weights file (newer transformers load that file first), and with the dtype fields set to
// dtype when given. The text as it is when neither applies.
std::string config_for_output(std::string_view config_text, std::optional<DType> dtype, std::string_view path);

// Copies every model file of from_dir into to_dir (config.json rewritten when dtype is given);
// returns the names copied. Throws Error naming the file that failed.
std::vector<std::string> copy_model_files(const std::string& from_dir, const std::string& to_dir,
                                          std::optional<DType> dtype);

}  // namespace mpimerge::storage::safetensors
