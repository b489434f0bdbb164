#pragma once
// Everything one merge needs to know, as the CLI (or a job file) gives it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/dtype.hpp"
#include "mpimerge/methods/options.hpp"

namespace mpimerge {

// One source of one output slice (a job file's `slices:`, mergekit's InputSliceDefinition): layers
// [first_layer, end_layer) of a checkpoint.
struct SliceSource {
  std::string path;
  std::uint64_t first_layer = 0, end_layer = 0;
};

// --output-io: how the output reaches its file system. automatic: chosen by the output's file system
// (storage/file_system.hpp: O_DIRECT on local disks, collective MPI-IO on parallel file systems).
enum class OutputIo { automatic, mpiio, direct };

// One entry of mergekit's `tokenizer: tokens:` (its TokenEmbeddingConfig): a token added to the
// output's vocabulary, and the embedding row every model lacking it (or, forced, every model) takes.
struct TokenRowSource {
  enum class Kind { zero, model, model_token } kind = Kind::zero;
  std::string model;                      // model, model_token: a checkpoint of the merge, as the job names it
  std::optional<std::uint64_t> token_id;  // model_token: that row of the model's embeddings ...
  std::string token;                      // ... or the row of this token in the model's vocabulary
  bool force = false;                     // every model takes this row, also one that has the token
};

// mergekit's tokenizer_source (or tokenizer: source), with the tokenizer block's other keys.
// See pipeline/tokenizer.hpp.
struct TokenizerChoice {
  std::string source;                   // "base", "union" or a checkpoint's path; empty: none (the base's files)
  std::uint64_t pad_to_multiple_of = 0;  // 0: none
  std::vector<std::pair<std::string, TokenRowSource>> tokens;  // in the job file's order
};

struct MergeJob {
  std::optional<std::string> base;
  std::vector<std::string> models;
  std::string output;
  std::string output_format;                  // "", "hdf5" or "safetensors" (see storage::output_format_for)
  std::uint64_t shard_bytes = 5'000'000'000;  // Hugging Face directory outputs: largest shard
  MethodOptions method;
  // A job file's slices, in output order: slices[s][i] is where input i (the base first, when there
  // is one, then the models) takes slice s's layers from; its weights before the layers come from
  // slice 0's sources and those after them from the last slice's. Empty: every input is one whole
  // checkpoint (base and models above, which then name slice 0's sources).
  std::vector<std::vector<SliceSource>> slices;
  TokenizerChoice tokenizer;
  // mergekit's chat_template: the template's text (a known name resolved), "auto", or empty.
  std::string chat_template;
  std::optional<DType> out_dtype;  // default: the base's dtype of each tensor
  bool compute_in_float64 = false;  // merge every tensor in float64 (mergekit's `dtype: float64`)
  // The checkpoint a Hugging Face output takes its config and tokenizer files from; default: the
  // base, else the first model. A job file's linear sets it to a base_model it averages in as a model.
  std::optional<std::string> model_files_from;
  // What the job asked that mpimerge does otherwise than mergekit, printed as "note" lines.
  std::vector<std::string> notes;
  // The method's side inputs (MethodSpec::side_inputs) by name, one file per model in model order:
  // "fisher" (diagonal Fishers), "gram" (Gram matrices).
  std::map<std::string, std::vector<std::string>> side_inputs;
  std::optional<std::uint64_t> memory_budget;  // bytes per rank; default: a share of the node's memory
  bool overwrite = false;
  OutputIo output_io = OutputIo::automatic;  // --output-io
  bool allow_nonfinite = false;  // merge NaN and infinity as they are, instead of refusing them
  bool resume = false;  // continue an interrupted merge of the same job from its journal
  bool quiet = false;
  std::string progress = "auto";  // auto, bar, lines, none
  std::string report_path;  // empty: beside the output, "<output>.report.json"
  bool report = true;       // false: no JSON report
  std::string command_line; // as the user typed it, for the report
  std::string job_file;     // the job file or sweep file the job came from, if any (an input too)
  std::string job_file_text;  // a merge job file's text as read (the output's mergekit_config.yml)
};

// Every file the job reads, with its role ("base", "model 2", "fisher 1", "job file"), in a fixed
// order: what no output, report or removal may ever touch.
struct JobInput {
  std::string role;
  std::string path;
};
std::vector<JobInput> job_inputs(const MergeJob& job);

// The note for mergekit's `dtype: bfloat16` or `float16` (or --dtype): mergekit computes every
// operation in that dtype, mpimerge in float32 with one rounding to the output dtype (which the
// dtype becomes by default). See docs/methods.md, "Compute dtype".
std::string sixteen_bit_compute_note(DType dtype);

// The report's path for a job: --report, else "<output>.report.json" beside the output.
std::string report_path_for(const MergeJob& job);

}  // namespace mpimerge
