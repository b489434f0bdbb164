#pragma once
// mergekit's tokenizer keys (tokenizer_source, tokenizer, chat_template). mergekit
// (tokenizer/build.py, tokenizer/embed.py) builds the output's vocabulary (the base's, a model's, or
// the union of all) and permutes every model's embedding and lm_head rows to it by token string;
// pipeline/vocabulary.hpp builds that alignment and pipeline/token_rows.hpp reads the permuted rows.
#include <optional>
#include <string>

#include "mpimerge/job/job.hpp"
#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "pipeline/vocabulary.hpp"

namespace mpimerge {

// Checks what the job's tokenizer keys need (a Hugging Face directory output; inputs in Hugging
// Face directories with a tokenizer.json each) and sets the output's tokenizer files (copied from
// the chosen tokenizer's directory, or built for the output), its chat template and config.json's
// vocab_size. Returns the alignment of the inputs' vocabularies when tokenizer_source is given
// (the inputs in the order the merge reads them: the base, then the models). Collective: rank 0
// reads the files, every rank parses the same bytes and agrees.
std::optional<TokenAlignment> plan_tokenizer(const MergeJob& job, storage::OutputSpec& output, const mpi::Comm& comm);

}  // namespace mpimerge
