#pragma once
// Distributed exact selection: the k-th smallest of integer keys spread over all ranks, for many
// independent problems at once (one per task, or per task and tensor), without moving any key.
//
// Radix selection, most significant digit first. In each pass every rank histograms the next digit
// of its keys that match the prefix chosen so far; one Reductions::sum of the integer counts
// combines all problems' histograms; every rank scans the same global histogram to the bucket that
// holds rank k and fixes that digit. Counts are integers, so the answer is the same bit for bit at
// any rank count and equals a full sort on one process. The number of keys below and equal to the
// answer is known exactly, so callers can honour either tie rule.
//
// Keys come from bits::magnitude_key: 31 significant bits for float32 magnitudes (two passes of
// 16 and 15 bits), 63 for float64.
#include <cstdint>
#include <span>
#include <vector>

#include "mpimerge/reductions.hpp"

namespace mpimerge {

class RadixSelection {
 public:
  // k[p] is a 1-based rank into problem p's keys; 0 means "no cut": the answer is key 0, which
  // every key is >= to. Histograms of one pass use at most max_bins (summed over active problems)
  // 64-bit counters, but always at least 2^min_digit_bits per problem.
  RadixSelection(std::vector<std::uint64_t> k, unsigned key_bits,
                 std::size_t max_bins = std::size_t{1} << 18);

  // The passes a selection of `problems` problems at once takes at most (fewer when some finish early).
  static int most_passes(std::size_t problems, unsigned key_bits, std::size_t max_bins = std::size_t{1} << 18);

  bool done() const { return active_ == 0; }
  std::size_t problems() const { return problems_.size(); }
  int passes() const { return passes_; }

  // During a pass, feed every key of a problem (in any number of calls, in any order).
  bool active(std::size_t problem) const { return !problems_[problem].done; }
  void count(std::size_t problem, std::span<const std::uint64_t> keys);
  void count(std::size_t problem, std::span<const std::uint32_t> keys);  // keys of at most 32 bits
  // The same, each key counted weights[i] times (keys held once with their count).
  void count(std::size_t problem, std::span<const std::uint64_t> keys, std::span<const std::uint32_t> weights);
  void count(std::size_t problem, std::span<const std::uint32_t> keys, std::span<const std::uint32_t> weights);
  // Combines every rank's histograms with one reduction and fixes each active problem's next digit.
  // Throws InputError if a k exceeds the number of keys its problem received.
  void finish_pass(Reductions& reductions);

  // After done(): the k-th smallest key, and how many keys lie below it and equal it.
  std::uint64_t kth_key(std::size_t problem) const { return problems_[problem].prefix; }
  std::uint64_t count_below(std::size_t problem) const { return problems_[problem].below; }
  std::uint64_t count_equal(std::size_t problem) const { return problems_[problem].equal; }
  // Total keys a problem received in the first pass (0 for problems with k = 0).
  std::uint64_t total(std::size_t problem) const { return problems_[problem].total; }

 private:
  struct Problem {
    std::uint64_t k = 0;       // rank still sought inside the current prefix bucket
    std::uint64_t prefix = 0;  // digits fixed so far
    unsigned shift = 0;        // bit position of the current digit's lowest bit
    std::uint64_t below = 0, equal = 0, total = 0;
    std::size_t offset = 0;    // of this problem's bins in histogram_
    bool done = false;
  };
  void plan_pass();
  template <class Key, class Weights>
  void count_keys(std::size_t problem, std::span<const Key> keys, const Weights& weight);

  std::vector<Problem> problems_;
  std::vector<std::int64_t> histogram_;
  unsigned key_bits_, digit_bits_ = 0;
  std::size_t max_bins_;
  std::size_t active_ = 0;
  int passes_ = 0;
};

}  // namespace mpimerge
