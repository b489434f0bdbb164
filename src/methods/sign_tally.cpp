#include "mpimerge/methods/sign_tally.hpp"

#include <algorithm>

namespace mpimerge {
namespace {
constexpr std::size_t kFirstSlots = 1024;  // a power of two

std::uint64_t slot_hash(std::uint64_t problem, std::uint64_t key) {
  std::uint64_t h = (key ^ (problem * 0xD6E8FEB86659FD93ull)) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}
}  // namespace

bool SignTally::room(std::uint64_t bytes) {
  if (overflow_ || memory_ + bytes > memory_limit_) {
    overflow_ = true;
    return false;
  }
  memory_ += bytes;
  return true;
}

bool SignTally::grow() {
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

SignTally::Slot* SignTally::find_or_insert(std::size_t problem, std::uint64_t key) {
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

void SignTally::add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut) {
  ++undecided_;
  if (overflow_) return;
  Slot* s = find_or_insert(problem, key);
  if (s == nullptr) return;
  s->outcomes.positive_if_kept += sign_if_kept > 0;
  s->outcomes.negative_if_kept += sign_if_kept < 0;
  s->outcomes.positive_if_cut += sign_if_cut > 0;
  s->outcomes.negative_if_cut += sign_if_cut < 0;
}

void SignTally::add_singles(std::span<const Single> singles) {
  if (!slots_.empty() && !overflow_) {
    const std::size_t mask = slots_.size() - 1;
    for (const Single& s : singles) __builtin_prefetch(&slots_[slot_hash(s.problem, s.key) & mask]);
  }
  for (const Single& s : singles) add_single(s.problem, s.key, s.sign_if_kept, s.sign_if_cut);
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

}  // namespace mpimerge
