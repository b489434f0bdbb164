#pragma once
// Counter-based random numbers: value i of a stream is a pure function of (stream key, i), so any
// rank can draw exactly the numbers that its rows need and the result never depends on how the
// rows are split between ranks.
#include <cmath>
#include <cstdint>
#include <string_view>

namespace mpimerge {

// SplitMix64's finaliser (Steele, Lea & Flood, 2014): a bijective 64-bit mixer.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr std::uint64_t hash_name(std::string_view name) {  // FNV-1a, then mixed
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return mix64(h);
}

class CounterRng {
 public:
  // One stream per (seed, a, b, name): e.g. (seed, model, 0, tensor name).
  CounterRng(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::string_view name)
      : key_(mix64(mix64(mix64(seed) ^ a) ^ (b * 0xD1B54A32D192ED03ull)) ^ hash_name(name)) {}

  std::uint64_t bits(std::uint64_t counter) const { return mix64(key_ ^ mix64(counter)); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform(std::uint64_t counter) const {
    return static_cast<double>(bits(counter) >> 11) * 0x1.0p-53;
  }
  // uniform(c) < p exactly when below(c, threshold_below(p)): the same test in integers, which
  // vectorises (p * 2^53 is exact, and uniform(c) is an integer times 2^-53).
  static std::uint64_t threshold_below(double p) {
    if (!(p > 0)) return 0;
    if (p >= 1) return std::uint64_t{1} << 53;
    return static_cast<std::uint64_t>(std::ceil(p * 0x1.0p53));
  }
  bool below(std::uint64_t counter, std::uint64_t threshold) const { return (bits(counter) >> 11) < threshold; }

 private:
  std::uint64_t key_;
};

}  // namespace mpimerge
