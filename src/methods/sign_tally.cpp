#include "mpimerge/methods/sign_tally.hpp"

namespace mpimerge {
namespace {
// What one entry of the (problem, key) map costs: a hash node with its payload and bucket.
constexpr std::uint64_t kSingleBytes = 80;
}  // namespace

bool SignTally::room(std::uint64_t bytes) {
  if (overflow_ || memory_ + bytes > memory_limit_) {
    overflow_ = true;
    return false;
  }
  memory_ += bytes;
  return true;
}

void SignTally::add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut) {
  ++undecided_;
  auto at = singles_.find(Where{problem, key});
  if (at == singles_.end()) {
    if (!room(kSingleBytes)) return;
    at = singles_.emplace(Where{problem, key}, Outcomes{}).first;
  }
  Outcomes& o = at->second;
  o.positive_if_kept += sign_if_kept > 0;
  o.negative_if_kept += sign_if_kept < 0;
  o.positive_if_cut += sign_if_cut > 0;
  o.negative_if_cut += sign_if_cut < 0;
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
  for (const auto& [where, o] : singles_) {
    const bool kept = where.key >= threshold_key[where.problem];
    positive_ += kept ? o.positive_if_kept : o.positive_if_cut;
    negative_ += kept ? o.negative_if_kept : o.negative_if_cut;
  }
  for (std::size_t u = 0; u < tensors32_.size(); ++u)
    count(sign32(tensors32_[u], std::span<const float>(tau32_).subspan(u * tasks, tasks)));
  for (std::size_t u = 0; u < tensors64_.size(); ++u)
    count(sign64(tensors64_[u], std::span<const double>(tau64_).subspan(u * tasks, tasks)));
  singles_.clear();
  tensors32_ = {};
  tensors64_ = {};
  tau32_ = {};
  tau64_ = {};
  memory_ = 0;
}

}  // namespace mpimerge
