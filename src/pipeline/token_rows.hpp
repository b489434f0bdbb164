#pragma once
// Embedding and lm_head rows permuted to the output's vocabulary (pipeline/vocabulary.hpp), as the
// checkpoint each input is read as: one view per input, whose token-row tensors have the output's
// rows, each output row read from the input's row of the same token or, where the input lacks the
// token, filled with mergekit's default (the only model's row, the base's, the models' average, or
// zero; padding rows with the mean of the input's rows). The method then merges permuted rows as
// it merges any rows, and every rank reads the same output rows whatever the rank count, so the
// output's bytes do not depend on it.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpimerge/mpi/comm.hpp"
#include "mpimerge/storage/checkpoint.hpp"
#include "pipeline/inputs.hpp"
#include "pipeline/vocabulary.hpp"

namespace mpimerge {

// Whether a tensor of this name holds one row per token (mergekit's is_embed weights across its
// architecture definitions: embed_tokens, lm_head, wte, word_embeddings, embed_in / embed_out, ...).
bool holds_token_rows(std::string_view name);

class TokenRowsView final : public storage::CheckpointReader {
 public:
  struct Rows {
    std::vector<std::int64_t> source;                          // per token: the input's row, or -1
    std::map<std::uint64_t, std::vector<std::uint8_t>> fills;  // token rows the input lacks: their bytes
    std::vector<std::uint8_t> padding;                         // the bytes of every row past the tokens
  };
  // rows: per tensor of inner, its permutation (nullopt: read as it is); output_rows: the
  // permuted tensors' row count.
  TokenRowsView(storage::CheckpointReader& inner, std::vector<std::optional<Rows>> rows, std::uint64_t output_rows,
                const mpi::Comm& comm);

  const std::string& path() const override { return inner_.path(); }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  // Collective, as every reader: the input rows of a permuted tensor are read in the fewest runs
  // of consecutive rows, as many calls on every rank (the most any rank needs).
  void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) override;
  void prefetch_rows(std::size_t index, RowRange rows) override;
  std::optional<std::uint64_t> stored_checksum(std::size_t index) const override;
  std::string describe() const override { return inner_.describe() + ", token rows aligned"; }
  std::vector<std::string> files() const override { return inner_.files(); }

  Rows& rows(std::size_t index) { return *rows_.at(index); }

 private:
  storage::CheckpointReader& inner_;
  std::vector<std::optional<Rows>> rows_;
  std::vector<TensorInfo> tensors_;
  const mpi::Comm& comm_;
};

// Collective: replaces each input of inputs.set.readers (the base first, then the models; the
// alignment's models in the same order) by its view. Nothing changes when every input already holds
// exactly the output's rows. Throws InputError naming the input and tensor when a tensor has fewer
// rows than its tokenizer's ids need, or no tensor holds token rows.
void align_token_rows(OpenInputs& inputs, const TokenAlignment& alignment, const mpi::Comm& comm);

}  // namespace mpimerge
