#include "support/checkpoint_files.hpp"

#include <cstdlib>
#include <filesystem>
#include <random>

#include "mpimerge/convert.hpp"
#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/storage/checkpoint.hpp"

namespace mpimerge::testing {

CheckpointSet random_checkpoint_set(const SetOptions& options) {
  CheckpointSet set;
  set.tensors = {
      {"model.layers.0.mlp.down_proj.weight", DType::f32, {7, 5}},
      {"model.layers.0.input_layernorm.weight", DType::bf16, {3}},
      {"encoder/block.0/conv.weight", DType::f16, {13, 4, 2}},
      {"small_rows", options.with_f64 ? DType::f64 : DType::f32, {2, 3}},
      {"single", DType::f32, {1}},
      {"scalar", DType::bf16, {}},
      {"empty", DType::f32, {0, 4}},
      {"long.bias", DType::bf16, {301}},
  };
  if (options.with_non_float) {
    set.tensors.push_back({"position_ids", DType::i64, {5}});
    set.tensors.push_back({"mask", DType::u8, {2, 2}});
  }
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> base_value(-1.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> step(1, 6);
  auto delta = [&] {
    if (unit(rng) < 0.3) return 0.0;  // unchanged parameters
    const double magnitude = step(rng) / 64.0;
    return unit(rng) < options.positive_bias ? magnitude : -magnitude;
  };
  set.models.resize(options.models);
  for (const TensorInfo& t : set.tensors) {
    const std::uint64_t n = t.elements();
    if (!is_float(t.dtype)) {
      RawTensor raw(t.bytes());
      for (auto& b : raw) b = static_cast<std::uint8_t>(rng());
      set.base.push_back(raw);
      for (auto& m : set.models) m.push_back(raw);
      continue;
    }
    std::vector<double> base(n);
    for (auto& x : base) x = std::round(base_value(rng) * 256.0) / 256.0;
    RawTensor raw(t.bytes());
    encode<double>(base, t.dtype, raw);
    set.base.push_back(raw);
    for (auto& model : set.models) {
      std::vector<double> values(n);
      for (std::uint64_t i = 0; i < n; ++i) values[i] = base[i] + delta();
      encode<double>(values, t.dtype, raw);
      model.push_back(raw);
    }
  }
  return set;
}

void write_checkpoint(const std::string& path, const std::vector<TensorInfo>& tensors,
                      const RawCheckpoint& data, const mpi::Comm& comm) {
  storage::OutputSpec spec;
  spec.format = storage::output_format_for(path);
  write_checkpoint(path, spec, tensors, data, comm);
}

void write_checkpoint(const std::string& path, const storage::OutputSpec& spec, const std::vector<TensorInfo>& tensors,
                      const RawCheckpoint& data, const mpi::Comm& comm) {
  auto writer = storage::create_checkpoint(path, spec, tensors, comm);
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const TensorInfo& info = tensors[t];
    const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
    const RowRange mine = owned_rows(info.rows(), comm.rank(), comm.size());
    for_each_transfer(most_rows_per_rank(info.rows(), comm.size()), mine, row_bytes, [&](RowRange part) {
      writer->write_rows(t, part, std::span<const std::uint8_t>(data[t]).subspan(part.begin * row_bytes, part.count() * row_bytes));
    });
  }
  writer->finish();
}

std::vector<TensorInfo> read_checkpoint(const std::string& path, RawCheckpoint& data, const mpi::Comm& comm) {
  auto reader = storage::open_checkpoint(path, comm);
  data.clear();
  for (std::size_t t = 0; t < reader->tensors().size(); ++t) {
    const TensorInfo& info = reader->tensors()[t];
    data.emplace_back(info.bytes());
    if (info.rows() > 0) reader->read_rows(t, RowRange{0, info.rows()}, data.back());
  }
  return reader->tensors();
}

SharedTempDir::SharedTempDir(const mpi::Comm& comm) : comm_(comm) {
  if (comm.is_root()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "mpimerge-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
  }
  comm.broadcast(path_);
}

SharedTempDir::~SharedTempDir() {
  comm_.barrier();
  if (comm_.is_root()) std::filesystem::remove_all(path_);
}

}  // namespace mpimerge::testing
