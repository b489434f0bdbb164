#pragma once
// Counts TIES's elected signs (+1 / -1 per parameter) during the pass that also finds the trim
// thresholds, before those thresholds are known. Each task-vector entry is, against its problem's
// pivots, cut (below the low pivot), kept (at or above the high pivot), or undecided (at the low
// pivot or between the pivots: kept only if the threshold turns out to be at or below its key).
//   - parameters with no undecided entry: their sign is known, counted at once;
//   - one undecided entry: the sign if it is cut is counted at once, and what keeping the entry
//     would change (a delta of -1, 0 or +1 to each count) waits, with the entry's key, for the
//     threshold; when both signs agree nothing waits;
//   - several undecided entries (rare): the parameter's task-vector entries are kept whole.
// resolve() then adds up, for the real thresholds, exactly the signs a full pass would count.
//
// The waiting deltas are appended to a log (16 bytes each, written in order) and folded into a
// table keyed by (problem, key) while that table stays much smaller than the log it replaces:
// bf16 and f16 task vectors have few distinct magnitudes between the pivots (hundreds to
// thousands per problem), f32 ones nearly one per entry, where a table costs a cache miss per
// entry and four times the log's memory.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace mpimerge {

class SignTally {
 public:
  explicit SignTally(std::uint64_t memory_limit) : memory_limit_(memory_limit) {}

  void add_decided(std::int64_t positive, std::int64_t negative) {
    positive_ += positive;
    negative_ += negative;
  }
  // Branch-free but for running out of room: the delta is written whatever the signs, and kept
  // when they differ (they agree for a third of the singles or so, at random: a branch on them
  // would be mispredicted often).
  void add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut) {
    ++undecided_;
    positive_ += sign_if_cut > 0;
    negative_ += sign_if_cut < 0;
    if (overflow_ || (log_.empty() && !make_room_in_log())) return;
    if (problem >= kEmpty) {  // more problems than any checkpoint has: count the signs in a pass
      overflow_ = true;
      return;
    }
    LogChunk& chunk = log_.back();
    chunk.deltas[chunk.used] = {key, static_cast<std::uint32_t>(problem),
                                static_cast<std::int8_t>((sign_if_kept > 0) - (sign_if_cut > 0)),
                                static_cast<std::int8_t>((sign_if_kept < 0) - (sign_if_cut < 0))};
    chunk.used += sign_if_kept != sign_if_cut;
    if (chunk.used == chunk.deltas.size()) make_room_in_log();
  }
  // tau: every task's entry of one parameter; compute type float or double.
  void add_multiple(std::uint32_t tensor, std::span<const float> tau);
  void add_multiple(std::uint32_t tensor, std::span<const double> tau);

  // True once something did not fit in memory_limit: the caller must count signs in a pass.
  bool overflowed() const { return overflow_; }
  std::uint64_t undecided() const { return undecided_; }

  // The signs of the kept-whole parameters, given thresholds: sign_of(tensor, tau).
  using SignOf32 = std::function<int(std::uint32_t, std::span<const float>)>;
  using SignOf64 = std::function<int(std::uint32_t, std::span<const double>)>;
  // Adds everything up for the thresholds (a key is kept when key >= threshold_key[problem]).
  void resolve(std::span<const std::uint64_t> threshold_key, std::size_t tasks, const SignOf32& sign32,
               const SignOf64& sign64);
  std::int64_t positive() const { return positive_; }
  std::int64_t negative() const { return negative_; }

 private:
  // Takes the bytes if they fit the memory limit; try_room() only says false when they do not,
  // room() then overflows the tally.
  bool try_room(std::uint64_t bytes);
  bool room(std::uint64_t bytes);
  bool make_room_in_log();
  void fold_log();

  std::uint64_t memory_limit_, memory_ = 0, undecided_ = 0;
  bool overflow_ = false;
  std::int64_t positive_ = 0, negative_ = 0;

  // What keeping one undecided entry changes in the counts.
  struct Delta {
    std::uint64_t key = 0;
    std::uint32_t problem = 0;
    std::int8_t positive = 0, negative = 0;
  };
  // The log, in chunks of at most kChunkDeltas (no chunk is copied once full). The last chunk is
  // the one written, its first `used` deltas kept and always one more written; while folding, it
  // is the only one.
  static constexpr std::size_t kChunkDeltas = std::size_t{1} << 16;
  struct LogChunk {
    std::vector<Delta> deltas;
    std::size_t used = 0;
  };
  std::vector<LogChunk> log_;
  bool folding_ = true;
  std::uint64_t folded_ = 0;

  // The deltas summed by (problem, key): open addressing, linear probing, at most half full, or
  // three quarters when the memory allows no larger table. 32-bit sums: no more than
  // kMostFolded deltas are ever folded, so none can overflow.
  static constexpr std::uint32_t kEmpty = ~std::uint32_t{0};
  static constexpr std::uint64_t kMostFolded = INT32_MAX;
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t problem = kEmpty;
    std::int32_t positive = 0, negative = 0;
  };
  Slot* find_or_insert(std::uint32_t problem, std::uint64_t key);
  bool grow();
  std::vector<Slot> slots_;
  std::size_t used_ = 0;

  std::vector<std::uint32_t> tensors32_, tensors64_;
  std::vector<float> tau32_;
  std::vector<double> tau64_;
};

}  // namespace mpimerge
