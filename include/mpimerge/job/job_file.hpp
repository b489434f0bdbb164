#pragma once
// Job files: the part of mergekit's YAML configuration that fits a parameter-level merge, plus a
// few keys of our own. A file mergekit reads merges the same way here, or is refused with a
// message that says what is not supported and why.
//
//   merge_method: ties                  # any method of `mpimerge merge --help`
//   base_model: base.h5
//   models:
//     - model: math.h5
//       parameters: {weight: 1.0, density: 0.5}
//       fisher: math.fisher.h5          # ours: a side input a method declares (fisher: the
//       gram: math.gram.h5              # model's diagonal Fisher; regmean: its Gram matrices)
//     - model: code.h5
//       parameters:
//         weight: 0.7
//         density: [{filter: mlp, value: 0.3}, {value: 0.5}]
//   parameters: {normalize: true, lambda: 1.0}
//   dtype: float32                      # compute dtype; float64 merges in float64, the 16-bit
//                                       # dtypes in float32 (a note says so; docs/methods.md)
//   out_dtype: bfloat16                 # default: dtype when given, else each tensor's own
//   output_format: hdf5                 # ours; default: from the output's extension
//
// Instead of models, mergekit's slices (then layer_range is a source's, not a model's):
//
//   slices:
//     - sources:
//         - model: a                      # layers [0, 16) of a ...
//           layer_range: [0, 16]
//           parameters: {weight: 0.5}     # this source's own (before the slice's and the global)
//         - model: b                      # ... merged with layers [0, 16) of b
//           layer_range: [0, 16]
//       base_model: a                     # optional: the slice's base (default: the global one)
//       parameters: {t: [0, 1]}           # the slice's own; a gradient runs over its layers
//     - sources: [{model: b, layer_range: [8, 24]}]
//
// Every slice has the same number of sources (one per input of the merge; the base's source is
// the base); the output has the slices' layers in order (see pipeline/slice_view.hpp).
//
//   tokenizer_source: base              # or union, or a model's path (or tokenizer: {source: base})
//   chat_template: chatml               # or auto, or a Jinja template
// Tokenizer keys align the models' embedding rows by token to the chosen vocabulary and write
// its tokenizer files (see pipeline/tokenizer.hpp); tokenizer: tokens adds tokens and chooses their
// rows, as mergekit:
//   tokenizer:
//     source: union
//     tokens:
//       "<|im_start|>": {source: models/chat}              # that model's row of the token
//       "<|im_end|>": {source: {kind: zero}, force: true}  # zeros, in every model
//       "<tool>": {source: {kind: model_token, model: models/chat, token: "<|im_sep|>"}}  # or token_id: N
// Refused: modules (they split a model by architecture).
// mergekit-moe's configs (experts, gate_mode) are refused with one line naming mergekit-moe.
//
// The parser never crashes on any input: every malformed file is a UsageError whose message
// names the file, the line and column where known, and what was expected.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/dtype.hpp"
#include "mpimerge/job/job.hpp"
#include "mpimerge/methods/parameters.hpp"

namespace mpimerge::job {

struct JobModel {
  std::string path;
  std::map<std::string, ParameterSetting> parameters;
  std::map<std::string, std::string> side_inputs;  // by the name a method declares: fisher, gram
};

struct JobSliceSource {
  std::string path;
  std::uint64_t first_layer = 0, end_layer = 0;  // layer_range: [first, end)
  std::map<std::string, ParameterSetting> parameters;
};

struct JobSlice {
  std::vector<JobSliceSource> sources;
  std::optional<std::string> base_model;
  std::map<std::string, ParameterSetting> parameters;
};

struct JobFile {
  std::string merge_method;
  std::optional<std::string> base_model;
  std::vector<JobModel> models;  // or:
  std::vector<JobSlice> slices;
  std::map<std::string, ParameterSetting> parameters;
  std::optional<DType> dtype, out_dtype;
  std::optional<std::string> output_format;  // hdf5 or safetensors
  TokenizerChoice tokenizer;                 // tokenizer_source, or tokenizer: {source, tokens, pad_to_multiple_of}
  std::string chat_template;                 // as given (a name, auto, or Jinja text)
};

// Files larger than this are refused before parsing (mergekit configurations are a few KB).
inline constexpr std::size_t kMaxJobFileBytes = std::size_t{1} << 20;

// Parses a job file's text; `source` names it in messages. Throws UsageError.
JobFile parse_job_file(const std::string& text, const std::string& source);

// A scalar as a job file or `--param KEY=VALUE` writes it: a number, true/false (YAML 1.1 words
// such as yes/no too), or a word. Quoted text is always a word.
ParameterScalar parse_scalar(const std::string& text, bool quoted = false);

// The text of a chat template a job names: a name we know ("chatml"), "auto" (kept: the models'
// most common template), or Jinja text (at least 20 characters, with a '{', as mergekit demands).
// Throws UsageError.
std::string chat_template_text(const std::string& given);

// The merge a job file describes. Models equal to base_model are the base for methods that
// take one, and ordinary models otherwise (mergekit's `linear` lists the base among its models).
// linear's base_model not among the models is one more model, last, with the global weight, as
// mergekit adds it (refused without a global weight, on which mergekit fails).
MergeJob merge_job_from(const JobFile& file);

}  // namespace mpimerge::job
