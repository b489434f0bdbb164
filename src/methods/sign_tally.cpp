#include "mpimerge/methods/sign_tally.hpp"

#include <algorithm>
#include <bit>

namespace mpimerge {
namespace {
// The log's first chunk and the table's first size: at most these, and no more than a small share
// of the memory limit (under a small --memory-budget the fixed 16 KB chunk and 32 KB table alone
// overflowed a tally of a few hundred keys, and counting the signs cost a read of the inputs).
constexpr std::uint64_t kFirstDeltas = 1024;
constexpr std::uint64_t kFirstSlots = 1024;  // a power of two
constexpr std::uint64_t kLeastFirst = 16;
// Deltas folded before the table may be judged too many keys for too few deltas: judged on the
// first small chunk (a small limit's), keys that crowd over a run looked distinct.
constexpr std::uint64_t kDecideAfter = std::uint64_t{1} << 15;

std::uint64_t slot_hash(std::uint64_t problem, std::uint64_t key) {
  std::uint64_t h = (key ^ (problem * 0xD6E8FEB86659FD93ull)) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}
}  // namespace

bool SignTally::try_room(std::uint64_t bytes) {
  if (overflow_ || memory_ + bytes > memory_limit_) return false;
  memory_ += bytes;
  return true;
}

bool SignTally::room(std::uint64_t bytes) {
  if (try_room(bytes)) return true;
  overflow_ = true;
  return false;
}

// False, and nothing changed, when the larger table would not fit.
bool SignTally::grow() {
  const std::size_t capacity =
      slots_.empty() ? std::bit_floor(std::clamp(memory_limit_ / 8 / sizeof(Slot), kLeastFirst, kFirstSlots))
                     : 2 * slots_.size();
  if (!try_room((capacity - slots_.size()) * sizeof(Slot))) return false;
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.problem == kEmpty) continue;
    std::size_t i = slot_hash(s.problem, s.key) & mask;
    while (slots_[i].problem != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }
  return true;
}

SignTally::Slot* SignTally::find_or_insert(std::uint32_t problem, std::uint64_t key) {
  if (2 * (used_ + 1) > slots_.size() && !grow() && 4 * (used_ + 1) > 3 * slots_.size()) {
    overflow_ = true;
    return nullptr;
  }
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = slot_hash(problem, key) & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.problem == problem && s.key == key) return &s;
    if (s.problem == kEmpty) {
      s.problem = problem;
      s.key = key;
      ++used_;
      return &s;
    }
  }
}

// A full log chunk grows (doubling, up to kChunkDeltas and a quarter of the memory: the rest is
// the table's), is folded into the table, or is followed by a new one. False when out of memory
// (overflowed).
bool SignTally::make_room_in_log() {
  const auto first = static_cast<std::size_t>(std::clamp(memory_limit_ / 16 / sizeof(Delta), kLeastFirst, kFirstDeltas));
  if (!log_.empty()) {
    std::vector<Delta>& deltas = log_.back().deltas;
    const std::size_t most = std::max<std::size_t>(first, std::min<std::uint64_t>(kChunkDeltas, memory_limit_ / 16 / sizeof(Delta)));
    const std::size_t size = std::min(most, 2 * deltas.size());
    if (size > deltas.size() && try_room((size - deltas.size()) * sizeof(Delta))) {
      deltas.resize(size);
      return true;
    }
    folding_ = folding_ && folded_ + log_.back().used <= kMostFolded;
    if (folding_) {
      fold_log();
      return !overflow_;
    }
  }
  if (!room(first * sizeof(Delta))) return false;
  log_.emplace_back().deltas.resize(first);
  return true;
}

// Sums the log's one chunk into the table, slots fetched ahead (one at a time every insert waits
// on memory once the table outgrows the caches). Stops folding for good when, kDecideAfter
// deltas on, the table holds more than one key per two deltas folded: then its keys are nearly
// distinct and the log is the smaller of the two.
void SignTally::fold_log() {
  LogChunk& chunk = log_.back();
  constexpr std::size_t kAhead = 8;
  for (std::size_t i = 0; i < chunk.used; ++i) {
    if (i + kAhead < chunk.used && !slots_.empty()) {
      const Delta& ahead = chunk.deltas[i + kAhead];
      __builtin_prefetch(&slots_[slot_hash(ahead.problem, ahead.key) & (slots_.size() - 1)]);
    }
    const Delta& d = chunk.deltas[i];
    Slot* s = find_or_insert(d.problem, d.key);
    if (s == nullptr) return;  // find_or_insert found no room: overflowed
    s->positive += d.positive;
    s->negative += d.negative;
  }
  folded_ += chunk.used;
  chunk.used = 0;
  folding_ = 2 * used_ <= folded_ || folded_ < kDecideAfter;
}

void SignTally::add_multiple(std::uint32_t tensor, std::span<const float> tau) {
  ++undecided_;
  if (!room(sizeof(tensor) + tau.size_bytes())) return;
  tensors32_.push_back(tensor);
  tau32_.insert(tau32_.end(), tau.begin(), tau.end());
}

void SignTally::add_multiple(std::uint32_t tensor, std::span<const double> tau) {
  ++undecided_;
  if (!room(sizeof(tensor) + tau.size_bytes())) return;
  tensors64_.push_back(tensor);
  tau64_.insert(tau64_.end(), tau.begin(), tau.end());
}

void SignTally::resolve(std::span<const std::uint64_t> threshold_key, std::size_t tasks, const SignOf32& sign32,
                        const SignOf64& sign64) {
  auto count = [&](int sign) {
    positive_ += sign > 0;
    negative_ += sign < 0;
  };
  for (const Slot& s : slots_) {
    if (s.problem == kEmpty || s.key < threshold_key[s.problem]) continue;
    positive_ += s.positive;
    negative_ += s.negative;
  }
  for (const LogChunk& chunk : log_) {
    std::int64_t positive = 0, negative = 0;
    for (const Delta& d : std::span<const Delta>(chunk.deltas).first(chunk.used)) {
      const bool kept = d.key >= threshold_key[d.problem];
      positive += kept ? d.positive : 0;
      negative += kept ? d.negative : 0;
    }
    positive_ += positive;
    negative_ += negative;
  }
  for (std::size_t u = 0; u < tensors32_.size(); ++u)
    count(sign32(tensors32_[u], std::span<const float>(tau32_).subspan(u * tasks, tasks)));
  for (std::size_t u = 0; u < tensors64_.size(); ++u)
    count(sign64(tensors64_[u], std::span<const double>(tau64_).subspan(u * tasks, tasks)));
  slots_ = {};
  used_ = 0;
  log_ = {};
  folding_ = true;
  folded_ = 0;
  tensors32_ = {};
  tensors64_ = {};
  tau32_ = {};
  tau64_ = {};
  memory_ = 0;
}

}  // namespace mpimerge
