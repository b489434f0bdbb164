#pragma once
// mergekit's tokenizer keys (tokenizer_source, tokenizer, chat_template) for a merge whose models
// share one vocabulary. mergekit (tokenizer/build.py, tokenizer/embed.py) builds the output's
// vocabulary (the base's, a model's, or the union of all) and permutes every model's embedding
// and lm_head rows to it by token string; where every model has the same tokens at the same ids
// and as many embedding rows as tokens, that permutation is the identity, and the merge is the
// plain merge with the chosen tokenizer's files. Models whose vocabularies differ are refused,
// naming the first difference.
#include <optional>
#include <string>
#include <vector>

#include "mpimerge/job/job.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/pipeline/plan.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

// A tokenizer.json's vocabulary: token string -> id (the model's vocabulary, then added tokens).
// Throws InputError naming the file when it is not one.
std::vector<std::pair<std::string, std::uint64_t>> read_vocabulary(const std::string& tokenizer_json_path);

// Checks what the job's tokenizer keys need (a Hugging Face directory output; inputs in Hugging
// Face directories with one vocabulary) and sets the output's tokenizer files: where they are
// copied from and the chat template written. Returns the number of tokens when tokenizer_source
// is given. Collective (rank 0 reads, every rank agrees).
std::optional<std::uint64_t> plan_tokenizer(const MergeJob& job, storage::OutputSpec& output, const mpi::Comm& comm);

// After planning: every embedding and lm_head holds one row per token (mergekit would resize it
// to the vocabulary otherwise). Throws InputError.
void check_embedding_rows(std::uint64_t tokens, const MergePlan& plan);


}  // namespace mpimerge
