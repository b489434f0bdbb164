#include "mpimerge/methods/sign_tally.hpp"

#include <algorithm>

namespace mpimerge {
namespace {
// What one entry of the (problem, key) map costs: a hash node with its payload and bucket.
constexpr std::uint64_t kSingleBytes = 80;
}  // namespace

bool SignTally::room(std::uint64_t bytes) {
  if (overflow_) return false;
  if (overflow_ || memory_ + bytes > memory_limit_) {
    overflow_ = true;
    return false;
  }
  memory_ += bytes;
  return true;
}

constexpr std::size_t kPendingLimit = 4096;

void SignTally::add_single(std::size_t problem, std::uint64_t key, int sign_if_kept, int sign_if_cut) {
  ++undecided_;
  pending_.push_back({Where{problem, key}, static_cast<std::int8_t>(sign_if_kept), static_cast<std::int8_t>(sign_if_cut)});
  if (pending_.size() >= kPendingLimit) flush_pending();
}

void SignTally::flush_pending() {
  std::sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
    return a.where.problem != b.where.problem ? a.where.problem < b.where.problem : a.where.key < b.where.key;
  });
  for (std::size_t i = 0; i < pending_.size();) {
    const Where where = pending_[i].where;
    auto at = singles_.find(where);
    if (at == singles_.end()) {
      if (!room(kSingleBytes)) break;
      at = singles_.emplace(where, Outcomes{}).first;
    }
    Outcomes& o = at->second;
    for (; i < pending_.size() && pending_[i].where == where; ++i) {
      o.positive_if_kept += pending_[i].if_kept > 0;
      o.negative_if_kept += pending_[i].if_kept < 0;
      o.positive_if_cut += pending_[i].if_cut > 0;
      o.negative_if_cut += pending_[i].if_cut < 0;
    }
  }
  pending_.clear();
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
  flush_pending();
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
