#include "pipeline/token_rows.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "mpimerge/convert.hpp"
#include "mpimerge/error.hpp"
#include "mpimerge/exact_sum.hpp"
#include "mpimerge/pipeline/transfers.hpp"

namespace mpimerge {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Runs of consecutive input rows, in output order: output row `at` onwards reads input rows `rows`.
struct Run {
  std::uint64_t at;
  RowRange rows;
};

std::vector<Run> runs_of(const std::vector<std::int64_t>& source, RowRange rows) {
  std::vector<Run> runs;
  const std::uint64_t end = std::min<std::uint64_t>(rows.end, source.size());
  for (std::uint64_t o = rows.begin; o < end; ++o) {
    if (source[o] < 0) continue;
    const auto s = static_cast<std::uint64_t>(source[o]);
    if (!runs.empty() && runs.back().at + runs.back().rows.count() == o && runs.back().rows.end == s)
      ++runs.back().rows.end;
    else
      runs.push_back({o, RowRange{s, s + 1}});
  }
  return runs;
}

std::optional<std::size_t> index_of(const storage::CheckpointReader& reader, const std::string& name) {
  const auto& tensors = reader.tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return i;
  return std::nullopt;
}

// The input rows every rank reads to fill the rows other inputs lack, as float64: the same rows on
// every rank, so the same collective calls.
std::map<std::uint64_t, std::vector<double>> read_rows_everywhere(storage::CheckpointReader& reader, std::size_t index,
                                                                  const std::set<std::uint64_t>& wanted) {
  const TensorInfo& info = reader.tensors()[index];
  const std::uint64_t width = info.row_elements(), row_bytes = width * dtype_size(info.dtype);
  std::map<std::uint64_t, std::vector<double>> out;
  std::vector<std::uint8_t> buffer;
  for (auto it = wanted.begin(); it != wanted.end();) {
    RowRange run{*it, *it + 1};
    for (++it; it != wanted.end() && *it == run.end; ++it) ++run.end;
    buffer.resize(run.count() * row_bytes);
    for_each_transfer(run.count(), run, row_bytes, [&](RowRange part) {
      reader.read_rows(index, part, std::span<std::uint8_t>(buffer).subspan((part.begin - run.begin) * row_bytes, part.count() * row_bytes));
    });
    for (std::uint64_t r = run.begin; r < run.end; ++r) {
      std::vector<double>& row = out[r];
      row.resize(width);
      decode<double>(info.dtype, std::span<const std::uint8_t>(buffer).subspan((r - run.begin) * row_bytes, row_bytes), row);
    }
  }
  return out;
}

std::vector<std::uint8_t> encoded(const std::vector<double>& row, DType dtype) {
  std::vector<std::uint8_t> bytes(row.size() * dtype_size(dtype));
  encode<double>(row, dtype, bytes);
  return bytes;
}

}  // namespace

bool holds_token_rows(std::string_view name) {
  static constexpr std::string_view kSuffixes[] = {
      "embed_tokens.weight", "lm_head.weight",         "wte.weight",      "word_embeddings.weight",
      "tok_embeddings.weight", "embed_in.weight",      "embed_out.weight", "lm_head.decoder.weight",
      "vocab_projector.weight", "cls.predictions.decoder.weight", "backbone.embeddings.weight",
      "transformer.output_layer.weight"};
  if (name == "output.weight" || name == "shared.weight") return true;
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes), [&](std::string_view s) {
    return ends_with(name, s) && (name.size() == s.size() || name[name.size() - s.size() - 1] == '.');
  });
}

TokenRowsView::TokenRowsView(storage::CheckpointReader& inner, std::vector<std::optional<Rows>> rows,
                             std::uint64_t output_rows, const mpi::Comm& comm)
    : inner_(inner), rows_(std::move(rows)), tensors_(inner.tensors()), comm_(comm) {
  for (std::size_t i = 0; i < tensors_.size(); ++i)
    if (rows_.at(i)) tensors_[i].shape[0] = output_rows;
}

void TokenRowsView::read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) {
  if (!rows_.at(index)) return inner_.read_rows(index, rows, out);
  const Rows& r = *rows_[index];
  const TensorInfo& info = tensors_[index];
  const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
  const std::vector<Run> runs = runs_of(r.source, rows);
  // Each run is part of this call's rows, so under the caller's transfer limit.
  const std::uint64_t calls = comm_.max(static_cast<std::uint64_t>(runs.size()));
  for (std::uint64_t c = 0; c < calls; ++c) {
    if (c < runs.size())
      inner_.read_rows(index, runs[c].rows, out.subspan((runs[c].at - rows.begin) * row_bytes, runs[c].rows.count() * row_bytes));
    else
      inner_.read_rows(index, RowRange{}, {});
  }
  for (std::uint64_t o = rows.begin; o < rows.end; ++o) {
    const std::span<std::uint8_t> row = out.subspan((o - rows.begin) * row_bytes, row_bytes);
    if (o >= r.source.size())
      std::memcpy(row.data(), r.padding.data(), row_bytes);
    else if (r.source[o] < 0)
      std::memcpy(row.data(), r.fills.at(o).data(), row_bytes);
  }
}

void TokenRowsView::prefetch_rows(std::size_t index, RowRange rows) {
  if (!rows_.at(index)) return inner_.prefetch_rows(index, rows);
  for (const Run& run : runs_of(rows_[index]->source, rows)) inner_.prefetch_rows(index, run.rows);
}

std::optional<std::uint64_t> TokenRowsView::stored_checksum(std::size_t index) const {
  return rows_.at(index) ? std::nullopt : inner_.stored_checksum(index);
}

void align_token_rows(OpenInputs& inputs, const TokenAlignment& a, const mpi::Comm& comm) {
  std::vector<storage::CheckpointReader*>& readers = inputs.set.readers;
  const std::size_t models = readers.size();
  const std::uint64_t tokens = a.tokens.size();
  std::vector<std::string> names;  // the token-row tensors, as the first input names them
  bool needed = !a.identity;
  mpi::run_agreed(comm, [&] {
    if (a.source_rows.size() != models)
      throw InputError("tokenizer_source: " + std::to_string(a.source_rows.size()) + " vocabularies for " +
                       std::to_string(models) + " inputs");
    for (const TensorInfo& t : readers.front()->tensors())
      if (holds_token_rows(t.name) && t.shape.size() == 2) names.push_back(t.name);
    for (std::size_t m = 0; m < models; ++m)
      for (const std::string& name : names)
        if (const auto i = index_of(*readers[m], name)) {
          const TensorInfo& info = readers[m]->tensors()[*i];
          if (info.shape.size() == 2 && info.shape[0] != a.rows) needed = true;
          if (info.shape.size() != 2) continue;  // the plan names the difference
          // The rows this input's tokenizer puts tokens at must be rows of the tensor.
          const auto& source = a.source_rows[m];
          const auto last = std::max_element(source.begin(), source.end());
          if (last != source.end() && *last >= 0 && static_cast<std::uint64_t>(*last) >= info.shape[0])
            throw InputError(readers[m]->path() + ": '" + name + "' has " + std::to_string(info.shape[0]) +
                             " rows, but its tokenizer puts '" + a.tokens[static_cast<std::size_t>(last - source.begin())] +
                             "' at id " + std::to_string(*last) + " (the ids below config.json's vocab_size, or all of "
                             "them without one, must be rows)");
        }
    if (needed && names.empty())
      throw InputError("tokenizer_source: no tensor of " + readers.front()->path() +
                       " holds token rows (embed_tokens, lm_head, wte, ...), so its rows cannot be aligned to the "
                       "output's vocabulary");
  });
  if (!needed) return;

  std::vector<std::vector<std::optional<TokenRowsView::Rows>>> rows(models);
  for (std::size_t m = 0; m < models; ++m) rows[m].resize(readers[m]->tensors().size());
  for (const std::string& name : names) {
    std::vector<std::optional<std::size_t>> index(models);
    for (std::size_t m = 0; m < models; ++m) index[m] = index_of(*readers[m], name);
    std::uint64_t width = 0;
    mpi::run_agreed(comm, [&] {
      for (std::size_t m = 0; m < models; ++m) {
        if (!index[m]) continue;
        const std::uint64_t w = readers[m]->tensors()[*index[m]].row_elements();
        if (width != 0 && w != width)
          throw InputError(readers[m]->path() + ": '" + name + "' has rows of " + std::to_string(w) + " values, " +
                           readers.front()->path() + "'s of " + std::to_string(width));
        width = w;
      }
    });
    // The rows of other inputs that fill what an input lacks (mergekit's default_embeds).
    auto has = [&](std::size_t m, std::uint64_t t) { return index[m] && a.source_rows[m][t] >= 0; };
    std::vector<std::set<std::uint64_t>> wanted(models);
    std::vector<std::uint64_t> lacking;
    for (std::uint64_t t = 0; t < tokens; ++t) {
      bool lacked = false;
      for (std::size_t m = 0; m < models; ++m) lacked = lacked || (index[m] && a.source_rows[m][t] < 0);
      if (!lacked) continue;
      lacking.push_back(t);
      const DefaultRow& d = a.defaults[t];
      if (d.kind == DefaultRow::Kind::row) wanted[d.model].insert(d.row);
      for (std::size_t m = 0; m < models; ++m)
        if (has(m, t) && (d.kind == DefaultRow::Kind::average || (d.kind == DefaultRow::Kind::model && d.model == m)))
          wanted[m].insert(static_cast<std::uint64_t>(a.source_rows[m][t]));
    }
    // A configured row (tokenizer tokens) must be one of its model's rows, as mergekit asserts.
    mpi::run_agreed(comm, [&] {
      for (std::size_t m = 0; m < models; ++m) {
        if (wanted[m].empty()) continue;
        if (!index[m])
          throw InputError("tokenizer tokens: a token's row comes from " + readers[m]->path() + ", which has no '" + name + "'");
        const std::uint64_t last = *wanted[m].rbegin(), rows_there = readers[m]->tensors()[*index[m]].shape[0];
        if (last >= rows_there)
          throw InputError("tokenizer tokens: a token's row is row " + std::to_string(last) + " of " + readers[m]->path() +
                           "'s '" + name + "', which has " + std::to_string(rows_there) + " rows");
      }
    });
    std::vector<std::map<std::uint64_t, std::vector<double>>> values(models);
    for (std::size_t m = 0; m < models; ++m)
      if (index[m]) values[m] = read_rows_everywhere(*readers[m], *index[m], wanted[m]);
    for (std::size_t m = 0; m < models; ++m)
      if (index[m]) rows[m][*index[m]] = TokenRowsView::Rows{a.source_rows[m], {}, {}};
    for (const std::uint64_t t : lacking) {
      const DefaultRow& d = a.defaults[t];
      std::vector<double> row(width, 0.0);
      if (d.kind == DefaultRow::Kind::row) {
        row = values[d.model].at(d.row);
      } else if (d.kind == DefaultRow::Kind::model && has(d.model, t)) {
        row = values[d.model].at(static_cast<std::uint64_t>(a.source_rows[d.model][t]));
      } else if (d.kind == DefaultRow::Kind::average) {
        // Summed in the inputs' order, then divided: one order on every rank.
        std::size_t count = 0;
        for (std::size_t m = 0; m < models; ++m) {
          if (!has(m, t)) continue;
          const std::vector<double>& v = values[m].at(static_cast<std::uint64_t>(a.source_rows[m][t]));
          for (std::uint64_t c = 0; c < width; ++c) row[c] += v[c];
          ++count;
        }
        for (double& x : row) x /= static_cast<double>(count);
      }
      for (std::size_t m = 0; m < models; ++m)
        if (index[m] && a.source_rows[m][t] < 0)
          rows[m][*index[m]]->fills[t] = encoded(row, readers[m]->tensors()[*index[m]].dtype);
    }
  }

  std::vector<TokenRowsView*> views;
  for (std::size_t m = 0; m < models; ++m) {
    auto view = std::make_unique<TokenRowsView>(*readers[m], std::move(rows[m]), a.rows, comm);
    views.push_back(view.get());
    readers[m] = view.get();
    inputs.owned.push_back(std::move(view));
  }
  if (a.rows == tokens) return;
  // Padding rows (pad_to_multiple_of): each input's mean over its token rows, as mergekit's
  // PermutedEmbeddings; summed exactly, so the mean does not depend on how ranks split the rows.
  mpi::CommReductions reductions(comm);
  std::vector<std::uint8_t> buffer;
  for (TokenRowsView* view : views)
    for (const std::string& name : names) {
      const auto index = index_of(*view, name);
      if (!index) continue;
      const TensorInfo& info = view->tensors()[*index];
      const std::uint64_t width = info.row_elements(), row_bytes = width * dtype_size(info.dtype);
      std::vector<ExactSum> sums(width);
      std::vector<double> values(width);
      for_each_transfer(most_rows_per_rank(tokens, comm.size()), owned_rows(tokens, comm.rank(), comm.size()), row_bytes,
                        [&](RowRange part) {
                          buffer.resize(part.count() * row_bytes);
                          view->read_rows(*index, part, buffer);
                          for (std::uint64_t r = 0; r < part.count(); ++r) {
                            decode<double>(info.dtype, std::span<const std::uint8_t>(buffer).subspan(r * row_bytes, row_bytes), values);
                            for (std::uint64_t c = 0; c < width; ++c) sums[c].add(values[c]);
                          }
                        });
      reduce_exact_sums(reductions, sums);
      for (std::uint64_t c = 0; c < width; ++c) values[c] = sums[c].value() / static_cast<double>(tokens);
      view->rows(*index).padding = encoded(values, info.dtype);
    }
}

}  // namespace mpimerge
