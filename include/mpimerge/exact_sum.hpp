#pragma once
// Exact sums of floating-point numbers, whose result does not depend on the order of addition or
// on how the terms are split between ranks: norms and dot products for SLERP, Model Stock, the
// L1 rescale of sparsified task vectors and the normalisation of Fisher matrices.
//
// A long fixed-point accumulator in the spirit of Kulisch's: every double is an integer multiple
// of 2^-1074, so the sum of any number of doubles is one big integer times 2^-1074, held here in
// 32-bit limbs stored in int64 (the spare high bits absorb carries). Adding is exact; combining
// the accumulators of several ranks is a plain element-wise integer sum (Reductions::sum), exact
// and associative; value() rounds the exact total once, to nearest, ties to even.
#include <array>
#include <cstdint>
#include <span>

#include "mpimerge/reductions.hpp"

namespace mpimerge {

class ExactSum {
 public:
  // Limb i holds bits [32 i, 32 i + 32) of the total in units of 2^-1074; 66 limbs reach 2^1038,
  // above the largest double, with the top limb's spare bits for sums of very many large terms.
  static constexpr std::size_t kLimbs = 67;
  // The limbs, then counts of +inf, -inf and NaN terms (which make the total inf or NaN).
  static constexpr std::size_t kWords = kLimbs + 3;

  void add(double x);
  void add(float x) { add(static_cast<double>(x)); }
  // a * b, exactly: the rounding error of the product (from a fused multiply-add) is added too.
  // Exact unless the error term itself underflows (products below 2^-969 in magnitude).
  void add_product(double a, double b);
  // Floats multiply exactly in double precision (24 + 24 significant bits): no error term.
  void add_product(float a, float b) { add(static_cast<double>(a) * static_cast<double>(b)); }

  // The exact total rounded to the nearest double (ties to even); +-inf beyond the double range.
  double value() const;
  bool is_zero() const;

  // As kWords integers whose element-wise sum over several accumulators is their combined total.
  void to_words(std::span<std::int64_t> words) const;
  void from_words(std::span<const std::int64_t> words);

 private:
  void add_magnitude_bits(std::uint64_t mantissa, int bit, bool negative);
  void normalize();  // carries up so that every limb but the top one is in [0, 2^32)
  std::array<std::int64_t, kLimbs> limbs_{};
  std::int64_t positive_infinities_ = 0, negative_infinities_ = 0, nans_ = 0;
  std::uint32_t pending_ = 0;  // additions since the last normalize
};

// Combines every rank's accumulators, in place, with one integer reduction.
void reduce_exact_sums(Reductions& reductions, std::span<ExactSum> sums);

}  // namespace mpimerge
