#include "pipeline/slice_view.hpp"

#include <algorithm>
#include <unordered_map>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/parameters.hpp"

namespace mpimerge {

std::uint64_t layer_count(const std::vector<TensorInfo>& tensors) {
  std::uint64_t layers = 0;
  for (const TensorInfo& t : tensors)
    if (const auto part = layer_part(t.name)) layers = std::max(layers, part->index + 1);
  return layers;
}

std::unique_ptr<SliceView> make_slice_view(const std::vector<std::vector<SliceSource>>& slices, std::size_t input,
                                           const std::map<std::string, storage::CheckpointReader*>& opened) {
  std::vector<TensorInfo> tensors;
  std::vector<SliceView::Source> sources;
  auto take = [&](storage::CheckpointReader* reader, std::size_t index, std::string name) {
    TensorInfo info = reader->tensors()[index];
    info.name = std::move(name);
    tensors.push_back(std::move(info));
    sources.push_back({reader, index});
  };
  storage::CheckpointReader* const first = opened.at(slices.front()[input].path);
  storage::CheckpointReader* const last = opened.at(slices.back()[input].path);
  std::string label;
  for (std::size_t j = 0; j < first->tensors().size(); ++j)
    if (is_before_layers(first->tensors()[j].name)) take(first, j, first->tensors()[j].name);

  std::uint64_t offset = 0;
  for (std::size_t s = 0; s < slices.size(); ++s) {
    const SliceSource& source = slices[s][input];
    storage::CheckpointReader* const reader = opened.at(source.path);
    const std::uint64_t layers = layer_count(reader->tensors());
    if (source.end_layer > layers)
      throw InputError("slice " + std::to_string(s + 1) + ": layer_range [" + std::to_string(source.first_layer) + ", " +
                       std::to_string(source.end_layer) + "] of " + source.path + " reaches beyond its " +
                       std::to_string(layers) + " layers");
    label += (label.empty() ? "" : " + ") + source.path + "[" + std::to_string(source.first_layer) + ":" +
             std::to_string(source.end_layer) + "]";
    // Each output layer's tensors in the order the source lists them.
    std::vector<std::vector<std::size_t>> by_layer(source.end_layer - source.first_layer);
    for (std::size_t j = 0; j < reader->tensors().size(); ++j)
      if (const auto part = layer_part(reader->tensors()[j].name);
          part && part->index >= source.first_layer && part->index < source.end_layer)
        by_layer[part->index - source.first_layer].push_back(j);
    for (std::uint64_t k = 0; k < by_layer.size(); ++k)
      for (const std::size_t j : by_layer[k]) {
        const std::string& name = reader->tensors()[j].name;
        const LayerPart part = *layer_part(name);
        take(reader, j, name.substr(0, part.begin) + std::to_string(offset + k) + name.substr(part.end));
      }
    offset += by_layer.size();
  }
  for (std::size_t j = 0; j < last->tensors().size(); ++j) {
    const std::string& name = last->tensors()[j].name;
    if (!layer_part(name) && !is_before_layers(name)) take(last, j, name);
  }
  if (slices.size() == 1) label = slices.front()[input].path;

  // The tensors of one whole checkpoint (a full-range slice) keep its order, so that the output is
  // the one its `models:` form writes, shard for shard.
  std::unordered_map<std::string, std::size_t> position;
  for (std::size_t j = 0; j < first->tensors().size(); ++j) position.emplace(first->tensors()[j].name, j);
  const bool same_names = tensors.size() == first->tensors().size() &&
                          std::all_of(tensors.begin(), tensors.end(), [&](const TensorInfo& t) { return position.count(t.name) != 0; });
  if (same_names) {
    std::vector<std::size_t> order(tensors.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return position[tensors[a].name] < position[tensors[b].name]; });
    std::vector<TensorInfo> sorted_tensors;
    std::vector<SliceView::Source> sorted_sources;
    for (const std::size_t i : order) {
      sorted_tensors.push_back(tensors[i]);
      sorted_sources.push_back(sources[i]);
    }
    tensors = std::move(sorted_tensors);
    sources = std::move(sorted_sources);
  }
  return std::make_unique<SliceView>(std::move(label), std::move(tensors), std::move(sources));
}

}  // namespace mpimerge
