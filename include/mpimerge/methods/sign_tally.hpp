#pragma once
// Counts TIES's elected signs (+1 / -1 per parameter) during the pass that also finds the trim
// thresholds, before those thresholds are known. Each task-vector entry is, against its problem's
// pivots, cut (below the low pivot), kept (at or above the high pivot), or undecided (at the low
// pivot or between the pivots: kept only if the threshold turns out to be at or below its key).
//   - parameters with no undecided entry: their sign is known, counted at once;
//   - one undecided entry: the sign if it is kept and the sign if it is cut, tallied by the entry's
//     key, so memory grows with the distinct keys between the pivots, not with the parameters;
//   - several undecided entries (rare): the parameter's task-vector entries are kept whole.
// resolve() then adds up, for the real thresholds, exactly the signs a full pass would count.
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
  void add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut);
  // The same for several, with the table's slots fetched ahead: the table outgrows the caches
  // (its keys are the distinct magnitudes between the pivots), and one at a time every insert
  // waits on memory.
  struct Single {
    std::uint64_t problem = 0, key = 0;
    int sign_if_kept = 0, sign_if_cut = 0;
  };
  void add_singles(std::span<const Single> singles);
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
  struct Outcomes {
    std::int64_t positive_if_kept = 0, negative_if_kept = 0, positive_if_cut = 0, negative_if_cut = 0;
  };
  bool room(std::uint64_t bytes);

  std::uint64_t memory_limit_, memory_ = 0, undecided_ = 0;
  bool overflow_ = false;
  std::int64_t positive_ = 0, negative_ = 0;
  // Singles arrive by the million with few distinct (problem, key): an open-addressing table
  // (linear probing, at most half full) counts them in place, with no allocation per entry.
  struct Slot {
    std::uint64_t key = 0;
    std::uint64_t problem = kEmpty;
    Outcomes outcomes;
  };
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  Slot* find_or_insert(std::size_t problem, std::uint64_t key);
  bool grow();
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
  std::vector<std::uint32_t> tensors32_, tensors64_;
  std::vector<float> tau32_;
  std::vector<double> tau64_;
};

}  // namespace mpimerge
