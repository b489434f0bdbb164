#pragma once
// A job file's slices (mergekit's `slices:`) as checkpoints the engine merges like any other: one
// view per input (the base, then each model), whose tensors are the output's, each read from the
// checkpoint and layer the slices name. Layers are renumbered into the output's (slice 0's first,
// then slice 1's, ...); the weights before the layers (embeddings) come from slice 0's source and
// those after them (final norm, head) from the last slice's, as mergekit plans them
// (plan.py, MergePlanner.plan_module). Plan, streaming and rank slicing see one checkpoint per input
// whose tensors come from several files, and read each row from the file it lives in.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mpimerge/job/job.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge {

class SliceView final : public storage::CheckpointReader {
 public:
  struct Source {
    storage::CheckpointReader* reader;
    std::size_t index;  // in reader->tensors()
  };
  SliceView(std::string label, std::vector<TensorInfo> tensors, std::vector<Source> sources)
      : label_(std::move(label)), tensors_(std::move(tensors)), sources_(std::move(sources)) {}

  const std::string& path() const override { return label_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) override {
    sources_.at(index).reader->read_rows(sources_[index].index, rows, out);
  }
  // Each run of consecutive pieces from one checkpoint as one batch of that checkpoint's (the
  // sources are the same on every rank, so the runs are too).
  void read_rows_batch(std::span<const storage::RowRead> reads) override {
    std::vector<storage::RowRead> run;
    for (std::size_t i = 0; i < reads.size(); ++i) {
      const Source& from = sources_.at(reads[i].index);
      run.push_back({from.index, reads[i].rows, reads[i].out});
      if (i + 1 == reads.size() || sources_.at(reads[i + 1].index).reader != from.reader) {
        from.reader->read_rows_batch(run);
        run.clear();
      }
    }
  }
  void prefetch_rows(std::size_t index, RowRange rows) override {
    sources_.at(index).reader->prefetch_rows(sources_[index].index, rows);
  }
  std::string describe() const override { return "layer slices"; }
  // Where output tensor `index` is read from: "a.h5's 'model.layers.3.mlp.weight'".
  const Source& source(std::size_t index) const { return sources_.at(index); }

 private:
  std::string label_;
  std::vector<TensorInfo> tensors_;
  std::vector<Source> sources_;
};

// The layers of a checkpoint: one more than the largest layer index of its tensor names (0 when
// none has one; see layer_part).
std::uint64_t layer_count(const std::vector<TensorInfo>& tensors);

// Input `input`'s view of the slices (job.slices[s][input] for every s), its checkpoints opened as
// `opened` by path. Throws InputError when a layer range reaches beyond a checkpoint's layers.
std::unique_ptr<SliceView> make_slice_view(const std::vector<std::vector<SliceSource>>& slices, std::size_t input,
                                           const std::map<std::string, storage::CheckpointReader*>& opened);

}  // namespace mpimerge
