#pragma once
// Distributed exact selection in one pass over the data, after a small sample (the approach of
// Huebschle-Schneider & Sanders, "Communication-efficient algorithms for top-k selection",
// arXiv:1502.03942, made exact):
//   1. sample: every rank feeds a few of its keys; radix selection over the sample alone picks two
//      pivots per problem that bracket rank k with high probability;
//   2. count: one pass over all keys classifies each against the pivots: below the low pivot
//      (counted), equal to a pivot (counted), strictly between (kept as a candidate), above
//      (counted). Comparisons only: no scattered histogram updates. Candidates that fill the
//      memory are compacted, each key once with its count (keys crowd on few values in bf16
//      task vectors);
//   3. finish: integer sums tell where rank k lies; when it lies at a pivot or among the
//      candidates, radix selection over the candidates alone gives the exact key. Otherwise the
//      problem is marked failed and the caller falls back to RadixSelection over the data.
//   4. narrow (optional): when a problem's candidates overflowed the memory, the count pass also
//      histogrammed the keys it could not hold (up to kMostHistogramBins bins between the pivots); if rank k
//      lies between the pivots, the bin that holds it gives two new, much closer pivots, and one
//      more counting pass (refine(), then 2. and 3. again) finds the exact answer. The problems
//      already solved keep their answer as both pivots, so that pass classifies them exactly, and
//      that pass holds candidates in all the memory. When the sample says the keys between the
//      pivots will not fit (many problems, little memory), the first count holds none and bins
//      them all, in all the memory (bins_first): two counts then answer where a first count that
//      filled up and overflowed would have left too coarse a bin. A round after refine() holds
//      candidates in all the memory; where they still outgrow it (a budget of a few rows against a
//      tensor of millions of keys), it bins the ones it holds and the rest in that memory instead,
//      and its bin narrows once more: each round divides the window, where falling back to
//      RadixSelection would start over from every key.
// The sample only steers the work: answers, and the counts below and at the answer, are exact and
// the same at any rank count as with RadixSelection. Keys equal to a pivot are never stored, so a
// spike of equal keys (unchanged parameters: |tau| = 0) costs no memory.
#include <cstdint>
#include <span>
#include <vector>

#include "mpimerge/reductions.hpp"

namespace mpimerge {

class SampledSelection {
 public:
  // k[p]: 1-based rank sought in problem p (0: no cut, done at once); n[p]: its number of keys.
  // max_candidates: per rank, over all problems, in keys (size it as bytes / key_bytes(key_bits)):
  // three quarters hold candidates, a quarter the histograms of step 4; a problem whose candidates
  // exceed their share fails, or is narrowed (refine) where its histogram found room.
  // bins_first_bytes: what a first counting round that only bins may use instead (its caller
  // then needs no other memory in that round; 0: the same as the rest).
  SampledSelection(std::vector<std::uint64_t> k, std::vector<std::uint64_t> n, unsigned key_bits,
                   std::uint64_t max_candidates, std::uint64_t bins_first_bytes = 0);

  std::size_t problems() const { return problems_.size(); }
  bool needs_selection(std::size_t p) const { return problems_[p].k != 0; }

  // 1. Sample keys (any subset of the problem's keys; more is better, none is allowed).
  void add_sample(std::size_t p, std::span<const std::uint64_t> keys);
  void finish_sample(Reductions& reductions);

  // Instead of 1., for a selection over a run of another's problems (in their order, after that
  // one's finish_sample): its pivots and the keys expected strictly between them on a rank. The
  // run then has the memory this one was given for its own few problems.
  struct Bracket {
    std::uint64_t low = 0, high = 0;
    double between = 0;
    double sampled = 0;  // keys in the sample, over all ranks
  };
  std::vector<Bracket> brackets() const;
  void take_brackets(std::span<const Bracket> brackets);

  // 2. Every key of every problem, once.
  enum class Class : std::uint8_t { below, low, between, high, above };
  std::uint64_t low_pivot(std::size_t p) const { return problems_[p].low; }
  std::uint64_t high_pivot(std::size_t p) const { return problems_[p].high; }
  Class classify(std::size_t p, std::uint64_t key) const {
    const Problem& q = problems_[p];
    if (key < q.low) return Class::below;
    if (key == q.low) return Class::low;
    if (key < q.high) return Class::between;
    return key == q.high ? Class::high : Class::above;
  }
  void count(std::size_t p, std::span<const std::uint64_t> keys);
  // The same, in two parts, for callers that classify keys in their own fused loops: counts of
  // keys below, at the low pivot, at the high pivot; then each key strictly between, one by one.
  struct Counts {
    std::uint64_t below = 0, at_low = 0, at_high = 0, between = 0;
  };
  void add_counts(std::size_t p, const Counts& counts);
  void add_candidate(std::size_t p, std::uint64_t key);
  // Several keys strictly between the pivots at once (as add_candidate, one by one).
  void add_candidates(std::size_t p, std::span<const std::uint32_t> keys) { add_candidates_of(p, keys); }
  void add_candidates(std::size_t p, std::span<const std::uint64_t> keys) { add_candidates_of(p, keys); }
  void finish_count(Reductions& reductions);

  // 3. After finish_count: either failed (fall back), or the exact answer.
  bool failed(std::size_t p) const { return problems_[p].failed; }
  // 4. After finish_count: failed problems whose answer lies in a known histogram bin.
  bool refinable(std::size_t p) const { return problems_[p].refined_low != problems_[p].refined_high; }
  // Every failed problem refinable: sets the narrower pivots (solved problems: their answer as both
  // pivots), clears the counts, and returns true; the caller runs one more counting pass, then
  // finish_count (and may refine again). False, and nothing changed, when some failed problem is
  // not refinable.
  bool refine();
  // After finish_count with failed problems: the counting rounds refine() and its successors would
  // take to answer them all, foreseen from the keys in their bins (a bound, not a promise; the
  // largest int where some failed problem is not refinable).
  int rounds_to_answer() const;
  // Bins of the histogram a problem keeps of the candidates it could not hold: at most this many,
  // fewer where many problems share the memory (the same number on every rank).
  static constexpr std::size_t kMostHistogramBins = 1024;
  // When finish_sample expects more keys between the pivots than fit, the first counting round
  // holds none and bins them all, with up to this many bins per problem.
  static constexpr std::size_t kMostBinsFirst = std::size_t{1} << 16;
  std::size_t histogram_bins(std::size_t p) const { return problems_[p].bins; }
  // In a round after refine(), until finish_count: its candidates outgrew the memory on this rank,
  // and it bins them instead.
  bool binned_after_refine() const { return binned_after_refine_; }
  // After finish_sample: this counting round holds no candidates and only bins (bins_first).
  bool binning_only() const { return binning_only_; }
  std::uint64_t kth_key(std::size_t p) const { return problems_[p].answer; }
  std::uint64_t count_below(std::size_t p) const { return problems_[p].answer_below; }
  std::uint64_t count_equal(std::size_t p) const { return problems_[p].answer_equal; }
  std::uint64_t candidates_held() const { return candidates_held_; }
  // Bytes one sampled or candidate key takes here.
  static std::size_t key_bytes(unsigned key_bits) { return key_bits <= 32 ? 4 : 8; }

 private:
  // Keys of at most 32 bits (float32 magnitudes) are held in 4 bytes, wider ones in 8: the sample
  // and the candidates are what this class spends memory on.
  template <class Key>
  struct Keys {
    std::vector<Key> sample, candidates;
    std::vector<std::uint32_t> weights;  // each candidate's count once compacted (make_room); else empty
  };
  struct Problem {
    std::uint64_t k = 0, n = 0;
    Keys<std::uint32_t> narrow;
    Keys<std::uint64_t> wide;
    std::uint64_t low = 0, high = ~std::uint64_t{0};
    std::uint64_t below = 0, at_low = 0, at_high = 0;  // this rank's counts
    bool overflow = false, failed = false;
    bool unbinned = false;  // a key between the pivots was neither held nor binned here
    std::uint64_t answer = 0, answer_below = 0, answer_equal = 0;
    // The keys strictly between the pivots that did not fit (only after an overflow here), in
    // `bins` bins of bin_width keys starting at low + 1; then the pivots that bracket the answer's bin.
    std::size_t bins = 0;
    std::vector<std::int64_t> overflow_bins;
    std::uint64_t bin_width = 1;  // of overflow_bins, set when they are made
    std::uint64_t refined_low = 0, refined_high = 0;
    std::uint64_t refined_between = 0;  // keys in that bin, over all ranks
    double expected_between = 0;  // keys strictly between the pivots, per rank, as the sample foresees
    double sampled = 0;           // keys in the sample, over all ranks
  };
  static std::uint64_t bin_width(const Problem& q);
  void bins_first(std::span<const double> between);
  // Bins per problem within `bytes`, in proportion to sqrt(between[p]) (the same on every rank for
  // the same arguments), at least `least` each where between[p] > 0 (0 elsewhere).
  void share_bins(std::span<const double> between, std::uint64_t bytes, std::uint64_t least);
  std::vector<std::size_t> shared_bins(std::span<const double> between, std::uint64_t bytes, std::uint64_t least) const;
  void bin_held_candidates();  // a refined round that overflows: its memory becomes bins
  void choose_binning();  // after the pivots: bins_first where the candidates would not fit
  void narrow_overflowed(Reductions& reductions, std::span<const std::uint64_t> rank_among_between);
  void choose_pivots(Reductions& reductions);
  template <class Key>
  void add_candidates_of(std::size_t p, std::span<const Key> keys);
  template <class Key, class Given>
  void hold(Keys<Key>& c, std::span<const Given> keys);
  std::uint64_t slots(const Problem& q) const;  // of the candidates' memory one more key takes
  bool make_room();
  template <class Key>
  void compact(Keys<Key>& c);
  bool narrow() const { return key_bits_ <= 32; }
  // f(keys) with the problem's sample or candidates, as whichever width they are held in.
  template <class F>
  void with_sample(const Problem& q, F&& f) const {
    if (narrow()) f(std::span<const std::uint32_t>(q.narrow.sample));
    else f(std::span<const std::uint64_t>(q.wide.sample));
  }
  template <class F>
  void with_candidates(const Problem& q, F&& f) const {
    if (narrow()) f(std::span<const std::uint32_t>(q.narrow.candidates), std::span<const std::uint32_t>(q.narrow.weights));
    else f(std::span<const std::uint64_t>(q.wide.candidates), std::span<const std::uint32_t>(q.wide.weights));
  }

  std::vector<Problem> problems_;
  unsigned key_bits_;
  // Room for candidates, in key slots: three quarters of the memory at first (a quarter goes to the
  // histograms of overflowed problems), none after bins_first, all of it after refine().
  std::uint64_t max_candidates_, candidates_held_ = 0;
  std::uint64_t memory_bytes_ = 0;  // candidates and histograms together
  std::uint64_t bins_first_bytes_ = 0;
  bool binning_only_ = false;
  bool compaction_spent_ = false;   // this round's last compaction left the memory over half full
  bool refined_round_ = false;      // after refine(): an overflow bins the held candidates
  std::int64_t ranks_ = 1;          // summed in finish_count
  bool binned_after_refine_ = false;
  std::uint64_t histogram_bytes_ = 0, histogram_bytes_left_ = 0;
};

}  // namespace mpimerge
