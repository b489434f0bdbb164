#include <filesystem>
#include <fstream>
#include <exception>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "mpimerge/error.hpp"
#include "storage/adjacent_runs.hpp"
#include "storage/first_defect.hpp"
#include "storage/input_file.hpp"
#include "storage/message.hpp"
#include "storage/prefetch.hpp"
#include "storage/root_read.hpp"
#include "mpimerge/mpi/file.hpp"
#include "storage/safetensors/header.hpp"
#include "storage/safetensors/index.hpp"
#include "storage/safetensors/safetensors_checkpoint.hpp"

namespace mpimerge::storage::safetensors {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// What rank 0 sends for one shard: the file's size (8 bytes, little-endian), then its first bytes:
// the 8-byte length and, when that length is plausible, the JSON.
std::vector<std::uint8_t> read_header_bytes(const std::string& path) {
  require_regular_file(path);  // before the open: a FIFO would block it
  std::error_code ec;
  const std::uint64_t size = fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) throw InputError(path + ": cannot be read" + (ec ? ": " + ec.message() : ""));
  std::vector<std::uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(size >> (8 * i));
  std::vector<std::uint8_t> prefix(std::min<std::uint64_t>(size, 8));
  in.read(reinterpret_cast<char*>(prefix.data()), static_cast<std::streamsize>(prefix.size()));
  std::uint64_t n = 0;
  for (std::size_t i = prefix.size(); i-- > 0;) n = (n << 8) | prefix[i];
  if (prefix.size() == 8 && n <= kMaxHeaderBytes && n <= size - 8) {
    prefix.resize(8 + n);
    in.read(reinterpret_cast<char*>(prefix.data() + 8), static_cast<std::streamsize>(n));
  }
  if (!in) throw InputError(path + ": cannot read the header");
  out.insert(out.end(), prefix.begin(), prefix.end());
  return out;
}

std::string read_text_file(const std::string& path, std::uint64_t limit) {
  require_regular_file(path);
  std::error_code ec;
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) throw InputError(path + ": cannot be read: " + ec.message());
  if (size > limit) throw InputError(path + ": " + std::to_string(size) + " bytes, larger than an index can be");
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size))) throw InputError(path + ": cannot be read");
  return text;
}

// Where the checkpoint's files are: a single file, or a directory's shards listed by its index.
struct Location {
  std::string index_path;          // "" for a single file
  std::vector<std::string> files;  // full paths of the shard files
  std::string note;                // how a directory was resolved, where there was a choice
};

// The weights file config.json names ("transformers_weights"), if it names one: newer transformers
// load that file before any other.
std::optional<std::string> configured_weights(const fs::path& dir) {
  const fs::path config = dir / "config.json";
  std::error_code ec;
  if (!fs::exists(config, ec)) return std::nullopt;
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_text_file(config.string(), kMaxIndexBytes));
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // not ours to judge: transformers refuses it when it loads the model
  }
  if (!json.is_object() || !json.contains("transformers_weights") || json["transformers_weights"].is_null())
    return std::nullopt;  // null: as absent, for transformers too
  const auto& value = json["transformers_weights"];
  const std::string name = value.is_string() ? value.get<std::string>() : "";
  // A file of the directory itself, as an index's shards must be: no path leads elsewhere.
  if ((!ends_with(name, ".safetensors") && !ends_with(name, ".safetensors.index.json")) ||
      name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
    throw InputError(config.string() + ": transformers_weights is not the name of a .safetensors or "
                     ".safetensors.index.json file in its directory");
  return name;
}

// A directory resolves as transformers' from_pretrained resolves it (modeling_utils,
// _get_resolved_checkpoint_files): the file config.json names in transformers_weights, else
// model.safetensors, else model.safetensors.index.json. A directory holding both of the latter
// is thus read from model.safetensors, and the index (and its shards) left alone.
Location locate(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path), index = dir / kIndexFileName, single = dir / kSingleFileName;
    if (const auto named = configured_weights(dir)) {
      const fs::path file = dir / *named;
      require_regular_file(file.string());
      if (ends_with(*named, ".index.json")) return {file.string(), {}, "config.json's transformers_weights"};
      return {"", {file.string()}, "config.json's transformers_weights"};
    }
    if (fs::exists(single, ec) || fs::is_symlink(single, ec)) {
      require_regular_file(single.string());
      const bool both = fs::exists(index, ec);
      return {"", {single.string()}, both ? std::string(kIndexFileName) + " beside it ignored, as transformers does" : ""};
    }
    if (fs::exists(index, ec) || fs::is_symlink(index, ec)) return {index.string(), {}, ""};
    throw InputError(path + ": a directory without " + kSingleFileName + " or " + kIndexFileName);
  }
  if (ends_with(path, ".index.json")) return {path, {}, ""};
  return {"", {path}, ""};
}

// Location as bytes, for rank 0 to send: fields separated by NUL (which no path holds).
std::vector<std::uint8_t> encode(const Location& where) {
  std::string text = where.index_path + '\0' + where.note;
  for (const std::string& file : where.files) text += '\0' + file;
  return {text.begin(), text.end()};
}

Location decode(const std::vector<std::uint8_t>& bytes) {
  std::vector<std::string> fields(1);
  for (const std::uint8_t c : bytes) {
    if (c == 0) fields.emplace_back();
    else fields.back() += static_cast<char>(c);
  }
  Location where{fields[0], {}, fields.size() > 1 ? fields[1] : ""};
  for (std::size_t i = 2; i < fields.size(); ++i) where.files.push_back(fields[i]);
  return where;
}

struct ParsedShard {
  std::string path;
  std::uint64_t size = 0;
  Header header;
};

// One shard's header, read and checked; index_path: the index that names it, or "".
ParsedShard read_shard(const std::string& file, const std::string& index_path) {
  std::error_code ec;
  if (!index_path.empty() && !fs::exists(file, ec) && !fs::is_symlink(file, ec))
    throw InputError(file + ": named in " + index_path + " but missing");
  const std::vector<std::uint8_t> bytes = read_header_bytes(file);
  std::uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = (size << 8) | bytes[static_cast<std::size_t>(i)];
  return {file, size, parse_header(std::span(bytes).subspan(8), size, file)};
}

// Collective. Every shard's header, read and parsed by one rank (shard s by rank s % ranks) and
// sent to the others parsed: a checkpoint of many shards costs each rank its share, not the whole
// (16 shards of 100k tensors in all). On a defect, every rank throws the error of the first bad
// shard in the files' order, as one rank reading them in turn would.
std::vector<ParsedShard> read_shards(const std::vector<std::string>& files, const std::string& index_path,
                                     const mpi::Comm& comm) {
  const std::size_t ranks = static_cast<std::size_t>(comm.size());
  std::vector<std::vector<std::uint8_t>> sent(files.size());
  std::vector<std::optional<ParsedShard>> mine(files.size());  // kept as parsed, not decoded again
  std::optional<Defect> defect;
  for (std::size_t s = static_cast<std::size_t>(comm.rank()); s < files.size(); s += ranks) {
    try {
      mine[s] = read_shard(files[s], index_path);
      if (ranks == 1) continue;
      put_number(sent[s], mine[s]->size);
      const std::vector<std::uint8_t> header = encode_header(mine[s]->header);
      sent[s].insert(sent[s].end(), header.begin(), header.end());
    } catch (const std::exception& e) {
      defect = Defect{s, e.what()};
      break;  // this rank's later shards come after it in the files' order
    }
  }
  agree_on_first_defect(comm, defect);
  std::vector<ParsedShard> shards;
  for (std::size_t s = 0; s < files.size(); ++s) {
    if (ranks > 1) comm.broadcast(sent[s], static_cast<int>(s % ranks));
    if (mine[s]) {
      shards.push_back(std::move(*mine[s]));
      continue;
    }
    const std::span<const std::uint8_t> bytes(sent[s]);
    const std::uint64_t size = MessageFields(bytes.first(std::min<std::size_t>(8, bytes.size())), files[s]).number();
    shards.push_back({files[s], size, decode_header(bytes.subspan(8))});
  }
  return shards;
}

class SafetensorsReader final : public CheckpointReader {
 public:
  SafetensorsReader(const std::string& path, const mpi::Comm& comm) : path_(path), comm_(comm) {
    // Rank 0 looks at the directory: every rank then reads the same files, or fails alike.
    Location where = decode(read_on_root(comm, [&] { return encode(locate(path)); }));
    std::optional<ShardIndex> index;
    if (!where.index_path.empty()) {
      const auto text = read_on_root(comm, [&] {
        const std::string s = read_text_file(where.index_path, kMaxIndexBytes);
        return std::vector<std::uint8_t>(s.begin(), s.end());
      });
      index = parse_index(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), where.index_path);
      const fs::path dir = fs::path(where.index_path).parent_path();
      for (const std::string& file : index->shard_files()) where.files.push_back((dir / file).string());
      if (where.files.empty()) throw InputError(where.index_path + ": weight_map lists no tensors");
    }
    for (ParsedShard& shard : read_shards(where.files, where.index_path, comm))
      shards_.push_back({shard.path, std::move(shard.header), {}, nullptr, std::nullopt, shard.size});
    if (index) check_index(*index, where.index_path);
    index_path_ = where.index_path;
    for (std::size_t s = 0; s < shards_.size(); ++s)
      for (std::size_t t = 0; t < shards_[s].header.tensors.size(); ++t) {
        tensors_.push_back(shards_[s].header.tensors[t].info);
        locations_.push_back({s, t});
      }
    describe_ = index ? "Hugging Face directory, " + std::to_string(shards_.size()) +
                            (shards_.size() == 1 ? " shard" : " shards") + " listed in " +
                            fs::path(where.index_path).filename().string()
                      : (where.files[0] != path ? "Hugging Face directory, one " + fs::path(where.files[0]).filename().string()
                                                : "safetensors file");
    if (!where.note.empty()) describe_ += " (" + where.note + ")";
    // Each rank holds every shard to the size its header was checked against.
    mpi::run_agreed(comm, [&] {
      for (Shard& shard : shards_) shard.pinned.emplace(shard.path, shard.size);
    });
    for (Shard& shard : shards_) {
      shard.file = mpi::File::open_read(comm, shard.path);
      shard.read_ahead = std::make_unique<ReadAhead>(shard.path);
    }
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  std::string describe() const override { return describe_; }
  std::vector<std::string> files() const override {
    std::vector<std::string> out;
    if (!index_path_.empty()) out.push_back(index_path_);
    for (const Shard& shard : shards_) out.push_back(shard.path);
    return out;
  }

  void prefetch_rows(std::size_t index, RowRange rows) override {
    const auto [s, t] = locations_[index];
    Shard& shard = shards_[s];
    const TensorEntry& entry = shard.header.tensors[t];
    const std::uint64_t row_bytes = entry.info.row_elements() * dtype_size(entry.info.dtype);
    shard.read_ahead->will_need(shard.header.data_start() + entry.begin + rows.begin * row_bytes, rows.count() * row_bytes);
  }

  void read_rows(std::size_t index, RowRange rows, std::span<std::uint8_t> out) override {
    const auto [s, t] = locations_[index];
    Shard& shard = shards_[s];
    const TensorEntry& entry = shard.header.tensors[t];
    const std::uint64_t row_bytes = entry.info.row_elements() * dtype_size(entry.info.dtype);
    shard.pinned->before_read(comm_.rank());
    shard.file.read_at_all(shard.header.data_start() + entry.begin + rows.begin * row_bytes,
                           out.subspan(0, rows.count() * row_bytes), [&] { shard.pinned->check(); });
  }

  // Small tensors independently, each rank its own pieces, then one agreement for the batch; the
  // others collectively, as read_rows does, in the batch's order (the same on every rank).
  void read_rows_batch(std::span<const RowRead> reads) override {
    std::vector<FilePiece> pieces;
    for (std::size_t i = 0; i < reads.size(); ++i) {
      const RowRead& r = reads[i];
      const auto [s, t] = locations_[r.index];
      const TensorEntry& entry = shards_[s].header.tensors[t];
      if (entry.end - entry.begin > kBatchedTensorBytes) {
        read_rows(r.index, r.rows, r.out);
        continue;
      }
      const std::uint64_t row_bytes = entry.info.row_elements() * dtype_size(entry.info.dtype);
      if (!r.rows.empty())
        pieces.push_back({s, shards_[s].header.data_start() + entry.begin + r.rows.begin * row_bytes,
                          r.rows.count() * row_bytes, i});
    }
    std::exception_ptr error;
    std::size_t shard = 0;  // the shard being read
    try {
      std::vector<bool> touched(shards_.size(), false);
      for_each_adjacent_run(pieces, [&](std::span<const FilePiece> run) {
        Shard& at = shards_[shard = run.front().file];
        for (std::size_t k = 0; k < run.size(); ++k) at.pinned->before_read(comm_.rank());
        read_run(run, staging_, [&](std::uint64_t offset, std::span<std::uint8_t> out) { at.file.read_at(offset, out); },
                 [&](std::size_t item) { return reads[item].out; });
        touched[shard] = true;
      });
      // Each shard's size once, after its reads.
      for (shard = 0; shard < shards_.size(); ++shard)
        if (touched[shard]) shards_[shard].pinned->check();
    } catch (...) {
      // A read past a truncated file's end fails first: the shrink is the cause to name.
      error = std::current_exception();
      try {
        if (shard < shards_.size()) shards_[shard].pinned->check();
      } catch (...) {
        error = std::current_exception();
      }
    }
    comm_.agree(error);
  }

 private:
  struct Shard {
    std::string path;
    Header header;
    mpi::File file;
    std::unique_ptr<ReadAhead> read_ahead;
    std::optional<PinnedSize> pinned;
    std::uint64_t size = 0;  // as rank 0 found it when it read the header
  };

  // The index must name, for every tensor, the shard that holds it, and every shard's tensors.
  void check_index(const ShardIndex& index, const std::string& index_path) const {
    std::vector<std::string> files;  // each shard's file name
    for (const Shard& shard : shards_) files.push_back(fs::path(shard.path).filename().string());
    std::unordered_map<std::string_view, std::size_t> holder;  // tensor -> its shard
    holder.reserve(index.weight_map.size());
    for (std::size_t s = 0; s < shards_.size(); ++s)
      for (const TensorEntry& t : shards_[s].header.tensors) {
        const auto [at, inserted] = holder.emplace(t.info.name, s);
        if (!inserted)
          throw InputError(index_path + ": tensor '" + t.info.name + "' is held by two shards, " + files[at->second] +
                           " and " + files[s]);
      }
    for (const auto& [tensor, file] : index.weight_map) {
      const auto at = holder.find(tensor);
      if (at == holder.end() || files[at->second] != file)
        throw InputError(index_path + ": weight_map puts tensor '" + tensor + "' in " + file +
                         ", which does not hold it" + (at == holder.end() ? "" : " (" + files[at->second] + " does)"));
    }
    // Every listed tensor is held where the index says (above) and names are unique on both
    // sides: equal counts leave no held tensor unlisted. Otherwise, the first by name.
    if (index.weight_map.size() == holder.size()) return;
    std::unordered_set<std::string_view> listed;
    for (const auto& entry : index.weight_map) listed.insert(entry.first);
    std::map<std::string_view, std::size_t> unlisted;
    for (const auto& [tensor, s] : holder)
      if (!listed.count(tensor)) unlisted.emplace(tensor, s);
    const auto& [tensor, s] = *unlisted.begin();
    throw InputError(index_path + ": shard " + files[s] + " holds tensor '" + std::string(tensor) +
                     "', which weight_map does not list");
  }


  std::string path_, describe_;
  const mpi::Comm& comm_;
  std::vector<Shard> shards_;
  std::string index_path_;  // "" for a single file
  std::vector<TensorInfo> tensors_;
  std::vector<std::pair<std::size_t, std::size_t>> locations_;  // per tensor: shard, entry
  std::vector<std::uint8_t> staging_;  // runs of small tensors read as one (at most kAdjacentRunBytes)
};

}  // namespace

bool looks_like_safetensors(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return fs::exists(fs::path(path) / kIndexFileName, ec) || fs::exists(fs::path(path) / kSingleFileName, ec);
  return ends_with(path, ".safetensors") || ends_with(path, ".safetensors.index.json");
}

std::unique_ptr<CheckpointReader> open_safetensors(const std::string& path, const mpi::Comm& comm) {
  return std::make_unique<SafetensorsReader>(path, comm);
}

}  // namespace mpimerge::storage::safetensors
