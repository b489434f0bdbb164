#pragma once
// The files beside the weights that make a Hugging Face directory loadable with from_pretrained:
// config.json, generation_config.json, the tokenizer's files, and the model's own code (*.py) that
// trust_remote_code loads.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpimerge/dtype.hpp"

namespace mpimerge::storage::safetensors {

// Whether a file of this name in a model directory is one to carry over (config, generation
// config, tokenizer files, chat template, the model's own *.py code); weights and indexes are not.
bool is_model_file(std::string_view name);

// config.json's text with its dtype fields ("torch_dtype" and/or "dtype", whichever it has) set to
// the torch name of dtype ("bfloat16", ...). Written as transformers writes configs (indent 2).
std::string config_with_dtype(std::string_view config_text, DType dtype, std::string_view path);

// config.json's text for an output directory: without "transformers_weights", which names the
// input's weights file (newer transformers load that file first), with the dtype fields set to
// dtype when given, and with the layer count set to layers when given (a stacked model's:
// "num_hidden_layers", or GPT-2's "n_layer", whichever the config has, as mergekit sets it), and
// "vocab_size" set to vocab_size when given (a vocabulary aligned across models: mergekit's
// _update_config_vocab). The text as it is when none applies.
std::string config_for_output(std::string_view config_text, std::optional<DType> dtype, std::string_view path,
                              std::optional<std::uint64_t> layers = std::nullopt,
                              std::optional<std::uint64_t> vocab_size = std::nullopt);

// Copies every model file of from_dir into to_dir (config.json rewritten as config_for_output
// does); returns the names copied. Throws Error naming the file that failed.
std::vector<std::string> copy_model_files(const std::string& from_dir, const std::string& to_dir,
                                          std::optional<DType> dtype,
                                          std::optional<std::uint64_t> layers = std::nullopt,
                                          std::optional<std::uint64_t> vocab_size = std::nullopt);

// The tokenizer files of to_dir replaced by from_dir's (when given: every model file but the
// configs), and a chat template (when given) written as transformers' save_pretrained writes one,
// which mergekit calls: chat_template.jinja, with no "chat_template" left in tokenizer_config.json
// and no chat_template.json. rewritten (name, text) replaces from_dir's files of those names: a
// tokenizer built for the output (a union, a stripped base), whose tokens from_dir's slow-tokenizer
// files (vocab.json, merges.txt, added_tokens.json, *.model) would contradict, so those are left
// out, as mergekit's save_pretrained of such a tokenizer leaves them out.
void write_tokenizer_files(const std::string& from_dir, const std::string& to_dir, const std::string& chat_template,
                           const std::vector<std::pair<std::string, std::string>>& rewritten = {});

}  // namespace mpimerge::storage::safetensors
