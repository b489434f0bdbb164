#include "mpimerge/exact_sum.hpp"

#include <bit>
#include <cmath>
#include <vector>

namespace mpimerge {
namespace {

constexpr int kUnitExponent = -1074;     // the accumulator counts units of 2^-1074
constexpr std::uint32_t kNormalizeEvery = 1u << 30;  // each add moves a limb by < 2^32

using u128 = unsigned __int128;

}  // namespace

void ExactSum::add(double x) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  const bool negative = (bits >> 63) != 0;
  const auto exponent = static_cast<int>((bits >> 52) & 0x7FF);
  const std::uint64_t fraction = bits & ((std::uint64_t{1} << 52) - 1);
  if (exponent == 0x7FF) {
    if (fraction != 0) ++nans_;
    else if (negative) ++negative_infinities_;
    else ++positive_infinities_;
    return;
  }
  if (exponent == 0) {
    if (fraction != 0) add_magnitude_bits(fraction, 0, negative);  // subnormal: fraction * 2^-1074
    return;
  }
  // Normal: (2^52 + fraction) * 2^(exponent - 1075), i.e. at bit exponent - 1 of the accumulator.
  add_magnitude_bits(fraction | (std::uint64_t{1} << 52), exponent - 1, negative);
}

void ExactSum::add_product(double a, double b) {
  const double p = a * b;
  add(p);
  if (std::isfinite(p)) add(std::fma(a, b, -p));  // a * b - p exactly (barring underflow)
}

void ExactSum::add_magnitude_bits(std::uint64_t mantissa, int bit, bool negative) {
  const auto limb = static_cast<std::size_t>(bit / 32);
  const u128 shifted = static_cast<u128>(mantissa) << (bit % 32);  // at most 84 bits
  const auto c0 = static_cast<std::int64_t>(static_cast<std::uint32_t>(shifted));
  const auto c1 = static_cast<std::int64_t>(static_cast<std::uint32_t>(shifted >> 32));
  const auto c2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(shifted >> 64));
  if (negative) {
    limbs_[limb] -= c0;
    limbs_[limb + 1] -= c1;
    limbs_[limb + 2] -= c2;
  } else {
    limbs_[limb] += c0;
    limbs_[limb + 1] += c1;
    limbs_[limb + 2] += c2;
  }
  if (++pending_ >= kNormalizeEvery) normalize();
}

void ExactSum::normalize() {
  for (std::size_t i = 0; i + 1 < kLimbs; ++i) {
    const std::int64_t carry = limbs_[i] >> 32;  // floor division: the remainder is in [0, 2^32)
    limbs_[i] -= carry * (std::int64_t{1} << 32);
    limbs_[i + 1] += carry;
  }
  pending_ = 0;
}

bool ExactSum::is_zero() const {
  ExactSum copy = *this;
  copy.normalize();
  for (std::int64_t l : copy.limbs_)
    if (l != 0) return false;
  return positive_infinities_ == 0 && negative_infinities_ == 0 && nans_ == 0;
}

double ExactSum::value() const {
  if (nans_ > 0 || (positive_infinities_ > 0 && negative_infinities_ > 0)) return std::nan("");
  if (positive_infinities_ > 0) return HUGE_VAL;
  if (negative_infinities_ > 0) return -HUGE_VAL;
  ExactSum m = *this;
  m.normalize();
  const bool negative = m.limbs_[kLimbs - 1] < 0;  // lower limbs are non-negative after normalize
  if (negative) {
    for (auto& l : m.limbs_) l = -l;
    m.normalize();
  }
  std::size_t h = kLimbs;
  while (h > 0 && m.limbs_[h - 1] == 0) --h;
  if (h == 0) return 0.0;
  const std::size_t top = h - 1;
  if (top == kLimbs - 1) return negative ? -HUGE_VAL : HUGE_VAL;  // beyond 2^1038
  // The top three limbs (up to 96 bits) and a sticky bit for everything below them.
  const std::size_t low = top >= 2 ? top - 2 : 0;
  u128 a = 0;
  for (std::size_t i = top + 1; i-- > low;) a = (a << 32) | static_cast<std::uint32_t>(m.limbs_[i]);
  bool sticky = false;
  for (std::size_t i = 0; i < low; ++i) sticky = sticky || m.limbs_[i] != 0;
  const int msb = 127 - (static_cast<std::uint64_t>(a >> 64) != 0
                             ? std::countl_zero(static_cast<std::uint64_t>(a >> 64))
                             : 64 + std::countl_zero(static_cast<std::uint64_t>(a)));
  int shift = 0;
  std::uint64_t mantissa = 0;
  if (msb <= 52) {
    mantissa = static_cast<std::uint64_t>(a);  // exact; nothing lies below (low == 0)
  } else {
    shift = msb - 52;
    mantissa = static_cast<std::uint64_t>(a >> shift);
    const u128 rest = a & ((static_cast<u128>(1) << shift) - 1);
    const u128 half = static_cast<u128>(1) << (shift - 1);
    if (rest > half || (rest == half && (sticky || (mantissa & 1)))) ++mantissa;  // nearest, ties to even
  }
  const double magnitude =
      std::ldexp(static_cast<double>(mantissa), shift + static_cast<int>(32 * low) + kUnitExponent);
  return negative ? -magnitude : magnitude;
}

void ExactSum::to_words(std::span<std::int64_t> words) const {
  ExactSum m = *this;
  m.normalize();
  for (std::size_t i = 0; i < kLimbs; ++i) words[i] = m.limbs_[i];
  words[kLimbs] = positive_infinities_;
  words[kLimbs + 1] = negative_infinities_;
  words[kLimbs + 2] = nans_;
}

void ExactSum::from_words(std::span<const std::int64_t> words) {
  for (std::size_t i = 0; i < kLimbs; ++i) limbs_[i] = words[i];
  positive_infinities_ = words[kLimbs];
  negative_infinities_ = words[kLimbs + 1];
  nans_ = words[kLimbs + 2];
  normalize();
}

void reduce_exact_sums(Reductions& reductions, std::span<ExactSum> sums) {
  std::vector<std::int64_t> words(sums.size() * ExactSum::kWords);
  for (std::size_t i = 0; i < sums.size(); ++i)
    sums[i].to_words(std::span<std::int64_t>(words).subspan(i * ExactSum::kWords, ExactSum::kWords));
  reductions.sum(words);
  for (std::size_t i = 0; i < sums.size(); ++i)
    sums[i].from_words(std::span<const std::int64_t>(words).subspan(i * ExactSum::kWords, ExactSum::kWords));
}

}  // namespace mpimerge
