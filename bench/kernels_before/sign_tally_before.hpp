// FROZEN COPY, for bench/ties_kernels_bench.cpp only: SignTally as it was before issue 15
// (include/mpimerge/methods/sign_tally.hpp and src/methods/sign_tally.cpp at 23325b5), header-only,
// so that the benchmark's "before" counting pass keeps the old tally when the program's changes.
// Not used by the program.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>


namespace mpimerge::before {
class SignTally {
 public:
  explicit SignTally(std::uint64_t memory_limit) : memory_limit_(memory_limit) {}

  void add_decided(std::int64_t positive, std::int64_t negative) {
    positive_ += positive;
    negative_ += negative;
  }
  void add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut);
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



inline constexpr std::size_t kFirstSlots = 1024;  // a power of two

inline std::uint64_t slot_hash(std::uint64_t problem, std::uint64_t key) {
  std::uint64_t h = (key ^ (problem * 0xD6E8FEB86659FD93ull)) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

inline bool SignTally::room(std::uint64_t bytes) {
  if (overflow_ || memory_ + bytes > memory_limit_) {
    overflow_ = true;
    return false;
  }
  memory_ += bytes;
  return true;
}

inline bool SignTally::grow() {
  const std::size_t capacity = slots_.empty() ? kFirstSlots : 2 * slots_.size();
  if (!room((capacity - slots_.size()) * sizeof(Slot))) return false;
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

inline SignTally::Slot* SignTally::find_or_insert(std::size_t problem, std::uint64_t key) {
  if (2 * (used_ + 1) > slots_.size() && !grow()) return nullptr;
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

inline void SignTally::add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut) {
  ++undecided_;
  if (overflow_) return;
  Slot* s = find_or_insert(problem, key);
  if (s == nullptr) return;
  s->outcomes.positive_if_kept += sign_if_kept > 0;
  s->outcomes.negative_if_kept += sign_if_kept < 0;
  s->outcomes.positive_if_cut += sign_if_cut > 0;
  s->outcomes.negative_if_cut += sign_if_cut < 0;
}

inline void SignTally::add_multiple(std::uint32_t tensor, std::span<const float> tau) {
  ++undecided_;
  if (!room(sizeof(tensor) + tau.size_bytes())) return;
  tensors32_.push_back(tensor);
  tau32_.insert(tau32_.end(), tau.begin(), tau.end());
}

inline void SignTally::add_multiple(std::uint32_t tensor, std::span<const double> tau) {
  ++undecided_;
  if (!room(sizeof(tensor) + tau.size_bytes())) return;
  tensors64_.push_back(tensor);
  tau64_.insert(tau64_.end(), tau.begin(), tau.end());
}

inline void SignTally::resolve(std::span<const std::uint64_t> threshold_key, std::size_t tasks, const SignOf32& sign32,
                        const SignOf64& sign64) {
  auto count = [&](int sign) {
    positive_ += sign > 0;
    negative_ += sign < 0;
  };
  for (const Slot& s : slots_) {
    if (s.problem == kEmpty) continue;
    const bool kept = s.key >= threshold_key[s.problem];
    positive_ += kept ? s.outcomes.positive_if_kept : s.outcomes.positive_if_cut;
    negative_ += kept ? s.outcomes.negative_if_kept : s.outcomes.negative_if_cut;
  }
  for (std::size_t u = 0; u < tensors32_.size(); ++u)
    count(sign32(tensors32_[u], std::span<const float>(tau32_).subspan(u * tasks, tasks)));
  for (std::size_t u = 0; u < tensors64_.size(); ++u)
    count(sign64(tensors64_[u], std::span<const double>(tau64_).subspan(u * tasks, tasks)));
  slots_ = {};
  used_ = 0;
  tensors32_ = {};
  tensors64_ = {};
  tau32_ = {};
  tau64_ = {};
  memory_ = 0;
}


}  // namespace mpimerge::before
