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
// Refused: slices, modules and layer_range (layer stacking needs the architecture, not a
// parameter-level merge), tokenizer_source, tokenizer and chat_template (tokenizer surgery
// rewrites embeddings against a vocabulary, and mpimerge writes weights only), and mergekit-moe's
// configs (experts, gate_mode), with one line naming mergekit-moe.
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

struct JobFile {
  std::string merge_method;
  std::optional<std::string> base_model;
  std::vector<JobModel> models;
  std::map<std::string, ParameterSetting> parameters;
  std::optional<DType> dtype, out_dtype;
  std::optional<std::string> output_format;  // hdf5 or safetensors
};

// Files larger than this are refused before parsing (mergekit configurations are a few KB).
inline constexpr std::size_t kMaxJobFileBytes = std::size_t{1} << 20;

// Parses a job file's text; `source` names it in messages. Throws UsageError.
JobFile parse_job_file(const std::string& text, const std::string& source);

// A scalar as a job file or `--param KEY=VALUE` writes it: a number, true/false (YAML 1.1 words
// such as yes/no too), or a word. Quoted text is always a word.
ParameterScalar parse_scalar(const std::string& text, bool quoted = false);

// The merge a job file describes. Models equal to base_model are the base for methods that
// take one, and ordinary models otherwise (mergekit's `linear` lists the base among its models).
// linear's base_model not among the models is one more model, last, with the global weight, as
// mergekit adds it (refused without a global weight, on which mergekit fails).
MergeJob merge_job_from(const JobFile& file);

}  // namespace mpimerge::job
