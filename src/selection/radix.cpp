#include "mpimerge/selection/radix.hpp"

#include <algorithm>
#include <bit>
#include <string>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {
constexpr unsigned kMinDigitBits = 8, kMaxDigitBits = 16;

unsigned digit_bits(std::size_t active, std::size_t max_bins) {
  const std::size_t per_problem = std::max<std::size_t>(1, max_bins / std::max<std::size_t>(1, active));
  return std::clamp<unsigned>(std::bit_width(per_problem) - 1, kMinDigitBits, kMaxDigitBits);
}
}  // namespace

RadixSelection::RadixSelection(std::vector<std::uint64_t> k, unsigned key_bits, std::size_t max_bins)
    : key_bits_(key_bits), max_bins_(max_bins) {
  problems_.resize(k.size());
  for (std::size_t p = 0; p < k.size(); ++p) {
    problems_[p].k = k[p];
    problems_[p].shift = key_bits;
    problems_[p].done = k[p] == 0;
    if (!problems_[p].done) ++active_;
  }
  plan_pass();
}

int RadixSelection::most_passes(std::size_t problems, unsigned key_bits, std::size_t max_bins) {
  const unsigned bits = digit_bits(problems, max_bins);
  return static_cast<int>((key_bits + bits - 1) / bits);
}

// One digit width for all active problems: as wide as the bin budget allows, so that few problems
// (model-scope trim) finish in two passes and many (tensor scope) keep each reduction small.
void RadixSelection::plan_pass() {
  if (active_ == 0) {
    histogram_.clear();
    return;
  }
  const unsigned bits = digit_bits(active_, max_bins_);
  std::size_t offset = 0;
  for (auto& p : problems_) {
    if (p.done) continue;
    p.offset = offset;
    offset += std::size_t{1} << std::min(bits, p.shift);
  }
  digit_bits_ = bits;
  histogram_.assign(offset, 0);
}

namespace {
struct EachOnce {
  std::int64_t operator[](std::size_t) const { return 1; }
};
struct Weighted {
  std::span<const std::uint32_t> weights;
  std::int64_t operator[](std::size_t i) const { return weights[i]; }
};
}  // namespace

void RadixSelection::count(std::size_t problem, std::span<const std::uint64_t> keys) { count_keys(problem, keys, EachOnce{}); }
void RadixSelection::count(std::size_t problem, std::span<const std::uint32_t> keys) { count_keys(problem, keys, EachOnce{}); }
void RadixSelection::count(std::size_t problem, std::span<const std::uint64_t> keys, std::span<const std::uint32_t> weights) {
  count_keys(problem, keys, Weighted{weights});
}
void RadixSelection::count(std::size_t problem, std::span<const std::uint32_t> keys, std::span<const std::uint32_t> weights) {
  count_keys(problem, keys, Weighted{weights});
}

template <class Key, class Weights>
void RadixSelection::count_keys(std::size_t problem, std::span<const Key> keys, const Weights& weight) {
  Problem& p = problems_[problem];
  if (p.done) return;
  const unsigned width = std::min(digit_bits_, p.shift);
  const unsigned low = p.shift - width;
  const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
  std::int64_t* bins = histogram_.data() + p.offset;
  if (p.shift == key_bits_) {
    for (std::size_t i = 0; i < keys.size(); ++i) bins[(std::uint64_t{keys[i]} >> low) & mask] += weight[i];
    return;
  }
  const unsigned high = p.shift;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint64_t key = keys[i];
    if ((key >> high) == p.prefix) bins[(key >> low) & mask] += weight[i];
  }
}

void RadixSelection::finish_pass(Reductions& reductions) {
  if (done()) return;
  reductions.sum(histogram_);
  ++passes_;
  for (std::size_t index = 0; index < problems_.size(); ++index) {
    Problem& p = problems_[index];
    if (p.done) continue;
    const unsigned width = std::min(digit_bits_, p.shift);
    const std::size_t bins = std::size_t{1} << width;
    const std::int64_t* h = histogram_.data() + p.offset;
    if (p.shift == key_bits_) {
      for (std::size_t b = 0; b < bins; ++b) p.total += static_cast<std::uint64_t>(h[b]);
      if (p.k > p.total)
        throw InputError("selection of rank " + std::to_string(p.k) + " among " +
                         std::to_string(p.total) + " keys (problem " + std::to_string(index) + ")");
    }
    std::uint64_t before = 0;
    std::size_t bucket = 0;
    for (; bucket < bins; ++bucket) {
      const auto n = static_cast<std::uint64_t>(h[bucket]);
      if (before + n >= p.k) break;
      before += n;
    }
    p.k -= before;
    p.below += before;
    p.prefix = (p.prefix << width) | bucket;
    p.shift -= width;
    if (p.shift == 0) {
      p.equal = static_cast<std::uint64_t>(h[bucket]);
      p.done = true;
      --active_;
    }
  }
  plan_pass();
}

}  // namespace mpimerge
