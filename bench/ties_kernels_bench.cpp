// The arithmetic of TIES's passes on one rank, in ns per model entry (one parameter of one
// fine-tune) per pass, for bf16, f16 and f32 inputs: the code before issue 15 (frozen copies in
// bench/kernels_before/, driven as TiesMerge drove them) against the program's TiesMerge now, in
// the same run, on the same data. No MPI, no files: the inputs are in memory, as the engine's
// group slices are, and the timings are what one rank spends between its reads and its writes.
//
//   ties_kernels_bench [PARAMETERS (default 4194304)] [REPEATS (default 5)] [BF16|F16|F32 (default all)]
//
// Each pass is timed REPEATS times, before and now in turn, and the fastest kept (the machine is
// shared: the minimum is the least disturbed run). The merged bytes of both versions are compared: they must be identical.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels_before/convert_before.hpp"
#include "kernels_before/sign_tally_before.hpp"
#include "kernels_before/ties_kernels.hpp"
#include "mpimerge/convert.hpp"
#include "mpimerge/methods/method_spec.hpp"
#include "mpimerge/methods/parameters.hpp"
#include "mpimerge/methods/ties.hpp"
#include "mpimerge/selection/radix.hpp"
#include "mpimerge/selection/sampled.hpp"

namespace mpimerge {
extern const MethodSpec kPaperTiesSpec;  // src/methods/ties.cpp
namespace {

constexpr std::size_t kTasks = 3;
constexpr std::size_t kBlock = 1024;  // the engine's block (src/pipeline/block_loop.hpp)
constexpr double kDensity = 0.2;

// CPU time of this thread, not wall time: on a shared machine (load average 12 on 2 cores while
// this was written) wall time counts the time other processes held the core.
struct Clock {
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<Clock, duration>;
  static time_point now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return time_point(duration(std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
  }
};

double seconds_of(const std::function<void()>& f, int repeats) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// Base ~ N(0, 0.02); task vectors heavy-tailed (Laplace, scale 1e-3), half shared between tasks,
// as mpimerge generate makes them. inputs[0] is the base.
std::vector<std::vector<std::uint8_t>> make_inputs(DType dtype, std::size_t n) {
  std::mt19937_64 rng(15);
  std::normal_distribution<float> weight(0.0f, 0.02f);
  std::exponential_distribution<float> tail(1000.0f);
  std::bernoulli_distribution coin(0.5);
  auto laplace = [&] { return coin(rng) ? tail(rng) : -tail(rng); };
  std::vector<float> base(n), shared(n), model(n);
  for (auto& x : base) x = weight(rng);
  for (auto& x : shared) x = laplace();
  std::vector<std::vector<std::uint8_t>> raw(kTasks + 1, std::vector<std::uint8_t>(n * dtype_size(dtype)));
  encode<float>(base, dtype, raw[0]);
  for (std::size_t t = 0; t < kTasks; ++t) {
    for (std::size_t i = 0; i < n; ++i) model[i] = base[i] + 0.5f * shared[i] + 0.5f * laplace();
    encode<float>(model, dtype, raw[t + 1]);
  }
  return raw;
}

// Decodes block `b` of every input and hands it over as a Block, as BlockDecoder does.
struct Blocks {
  const std::vector<std::vector<std::uint8_t>>& raw;
  DType dtype;
  std::size_t n;
  bool old_decode;
  std::vector<std::vector<float>> buffers = std::vector<std::vector<float>>(kTasks + 1, std::vector<float>(kBlock));
  std::vector<std::span<const float>> models = std::vector<std::span<const float>>(kTasks);
  std::vector<std::span<const float>> inputs = std::vector<std::span<const float>>(kTasks + 1);

  std::size_t count() const { return (n + kBlock - 1) / kBlock; }
  Block<float> block(std::size_t b) {
    const std::size_t first = b * kBlock, size = std::min(kBlock, n - first), width = dtype_size(dtype);
    for (std::size_t i = 0; i <= kTasks; ++i) {
      const std::span<const std::uint8_t> bytes(raw[i].data() + first * width, size * width);
      std::span<const float> in(buffers[i].data(), size);
      if (old_decode)
        before::decode<float>(dtype, bytes, std::span<float>(buffers[i].data(), size));
      else if (const auto same = view_as<float>(dtype, bytes))  // as the engine's BlockDecoder: no copy
        in = *same;
      else
        decode<float>(dtype, bytes, std::span<float>(buffers[i].data(), size));
      inputs[i] = in;
      if (i > 0) models[i - 1] = in;
    }
    Block<float> block;
    block.first_element = first;
    block.base = inputs[0];
    block.models = models;
    return block;
  }
};

// TIES before issue 15: TiesMerge's count_block, tally_undecided and merge_block as they were,
// over the frozen kernels, model scope, one problem per task.
class TiesBefore {
 public:
  explicit TiesBefore(std::size_t n)
      : sampled_(std::vector<std::uint64_t>(kTasks, ties::kth_smallest_rank(n, kDensity)),
                        std::vector<std::uint64_t>(kTasks, n), 31, std::uint64_t{8} << 20),
        signs_(std::uint64_t{32} << 20) {}

  void sample(const Block<float>& block) {
    std::vector<std::uint64_t> keys(block.size());
    for (std::size_t t = 0; t < kTasks; ++t) {
      ties_before::task_vector_keys<float>(block.models[t], block.base, false, keys);
      sampled_.add_sample(t, keys);
    }
  }
  void finish_sample() { sampled_.finish_sample(local_); }

  void count(const Block<float>& block) {
    const std::size_t n = block.size();
    for (auto& v : tau_) v.resize(n);
    undecided_entries_.assign(n, 0);
    undecided_task_.resize(n);
    keys_.resize(n);
    std::span<float> tau[2 * kTasks];
    for (std::size_t i = 0; i < 2 * kTasks; ++i) tau[i] = tau_[i];
    for (std::size_t t = 0; t < kTasks; ++t) {
      const std::uint64_t low = sampled_.low_pivot(t), high = sampled_.high_pivot(t);
      ties::PivotCounts counts;
      ties_before::classify_task_vector<float, std::uint32_t>(block.models[t], block.base, low, high, false,
                                                              static_cast<std::uint32_t>(t), tau[t], tau[kTasks + t],
                                                              keys_, undecided_entries_, undecided_task_, counts);
      if (counts.between != 0)
        ties_before::keys_between<std::uint32_t>(keys_, low, high, [&](std::uint64_t key) { sampled_.add_candidate(t, key); });
      sampled_.add_counts(t, {counts.below, counts.at_low, counts.at_high, counts.between});
    }
    const std::span<const std::span<float>> trimmed(tau + kTasks, kTasks);
    sums_.resize(n);
    ties_before::elected_sign_before_fallback<float>(trimmed, sums_);
    std::int64_t positive = 0, negative = 0, undecided = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool decided = undecided_entries_[i] == 0;
      positive += (sums_[i] > 0.0f) & decided;
      negative += (sums_[i] < 0.0f) & decided;
      undecided += !decided;
    }
    signs_.add_decided(positive, negative);
    if (undecided == 0) return;
    for (std::size_t i = 0; i < n; ++i) {  // tally_undecided
      if (undecided_entries_[i] == 0) continue;
      if (undecided_entries_[i] == 1) {
        const std::size_t which = undecided_task_[i];
        float sum = 0;
        for (std::size_t t = 0; t < kTasks; ++t) sum += t == which ? tau[t][i] : tau[kTasks + t][i];
        signs_.add_single(which, ties::key_of<float>(tau[which][i], false), sum > 0 ? 1 : (sum < 0 ? -1 : 0),
                          static_cast<int>(sums_[i]));
      } else {
        float entries[kTasks];
        for (std::size_t t = 0; t < kTasks; ++t) entries[t] = tau[t][i];
        signs_.add_multiple(0, std::span<const float>(entries, kTasks));
      }
    }
  }

  bool finish_count() {
    sampled_.finish_count(local_);
    for (std::size_t t = 0; t < kTasks; ++t) {
      if (sampled_.failed(t)) return false;
      thresholds_[t] = sampled_.kth_key(t);
    }
    auto sign32 = [&](std::uint32_t, std::span<const float> tau) {
      float sum = 0;
      for (std::size_t t = 0; t < tau.size(); ++t) sum += ties::key_of<float>(tau[t], false) < thresholds_[t] ? 0.0f : tau[t];
      return sum > 0 ? 1 : (sum < 0 ? -1 : 0);
    };
    signs_.resolve(thresholds_, kTasks, sign32, [](std::uint32_t, std::span<const double>) { return 0; });
    majority_ = signs_.positive() > signs_.negative() ? 1 : (signs_.positive() < signs_.negative() ? -1 : 0);
    return true;
  }

  void merge(const Block<float>& block, std::span<float> out) {
    const std::size_t n = block.size();
    std::span<float> trimmed[kTasks];
    for (std::size_t t = 0; t < kTasks; ++t) {
      tau_[t].resize(n);
      trimmed[t] = tau_[t];
      ties_before::trimmed_task_vector<float>(block.models[t], block.base, thresholds_[t], false, trimmed[t]);
    }
    const std::span<const std::span<float>> all(trimmed, kTasks);
    gamma_.resize(3 * n);
    const std::span<float> gamma(gamma_);
    ties_before::elected_sign_before_fallback<float>(all, gamma.first(n));
    ties_before::apply_zero_sign_fallback<float>(gamma.first(n), majority_);
    ties_before::disjoint_merge<float>(all, gamma.first(n), DisjointMerge::mean, out, gamma.subspan(n));
    ties_before::add_scaled_to_base<float>(block.base, 1.0f, out);
    const auto direction = gamma.subspan(n, n);
    std::int64_t kept = 0, lost = 0;
    for (const auto& task : all)
      for (std::size_t i = 0; i < n; ++i) {
        kept += task[i] != 0.0f;
        lost += (task[i] != 0.0f) & !(task[i] * direction[i] > 0.0f);
      }
    kept_ += kept;
    lost_ += lost;
  }

 private:
  LocalReductions local_;
  SampledSelection sampled_;
  before::SignTally signs_;
  std::vector<float> tau_[2 * kTasks], sums_, gamma_;
  std::vector<std::uint32_t> undecided_entries_, undecided_task_, keys_;
  std::vector<std::uint64_t> thresholds_ = std::vector<std::uint64_t>(kTasks);
  int majority_ = 0;
  std::int64_t kept_ = 0, lost_ = 0;
};

struct PassTimes {
  double decode = 0, count = 0, merge = 0;
};

// The blocks a sample pass shows: every 64th (the sample's share of keys at model scope).
constexpr std::size_t kSampleStride = 64;

PassTimes run_before(const std::vector<std::vector<std::uint8_t>>& raw, DType dtype, std::size_t n, int repeats,
                     std::vector<std::uint8_t>& merged) {
  PassTimes times;
  Blocks blocks{raw, dtype, n, true};
  times.decode = seconds_of([&] { for (std::size_t b = 0; b < blocks.count(); ++b) blocks.block(b); }, repeats);
  std::unique_ptr<TiesBefore> ties;
  // The counting pass alone (not the sample pass before it), on a fresh selection each time.
  times.count = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto fresh = std::make_unique<TiesBefore>(n);
    for (std::size_t b = 0; b < blocks.count(); b += kSampleStride) fresh->sample(blocks.block(b));
    fresh->finish_sample();
    const auto t0 = Clock::now();
    for (std::size_t b = 0; b < blocks.count(); ++b) fresh->count(blocks.block(b));
    times.count = std::min(times.count, std::chrono::duration<double>(Clock::now() - t0).count());
    if (r + 1 == repeats) ties = std::move(fresh);
  }
  if (!ties->finish_count()) {
    std::fprintf(stderr, "before: the sample missed a threshold\n");
    std::exit(1);
  }
  std::vector<float> out(kBlock);
  merged.assign(n * dtype_size(dtype), 0);
  times.merge = seconds_of(
      [&] {
        for (std::size_t b = 0; b < blocks.count(); ++b) {
          const Block<float> block = blocks.block(b);
          ties->merge(block, std::span<float>(out.data(), block.size()));
          encode_counting_nonfinite<float>(std::span<const float>(out.data(), block.size()), dtype,
                                           std::span<std::uint8_t>(merged).subspan(b * kBlock * dtype_size(dtype),
                                                                                   block.size() * dtype_size(dtype)));
        }
      },
      repeats);
  return times;
}

// The program's TiesMerge, driven as the engine drives it (one tensor of n parameters).
PassTimes run_now(const std::vector<std::vector<std::uint8_t>>& raw, DType dtype, std::size_t n, int repeats,
                  std::vector<std::uint8_t>& merged, int& extra_passes) {
  PassTimes times;
  Blocks blocks{raw, dtype, n, false};
  times.decode = seconds_of([&] { for (std::size_t b = 0; b < blocks.count(); ++b) blocks.block(b); }, repeats);
  MethodOptions options;
  options.set("density", kDensity).set("trim_scope", "model");
  MergeShape shape;
  shape.models = kTasks;
  shape.has_base = true;
  shape.method_memory = std::uint64_t{64} << 20;
  shape.tensors.push_back({"w", {n / 1024, 1024}, n, ComputeType::f32});
  LocalReductions local;
  std::unique_ptr<MergeMethod> method;
  times.count = 1e30;
  for (int r = 0; r < repeats; ++r) {
    method = std::make_unique<TiesMerge>(MethodArgs{
        &kPaperTiesSpec, validate_parameters(options.params, kPaperTiesSpec.parameters, "ties", kTasks, false)});
    method->start(shape);
    extra_passes = 0;
    for (bool counting = false; method->needs_pass();) {
      if (method->pass_kind() == PassKind::sample) {
        for (std::size_t b = 0; b < blocks.count(); b += kSampleStride) method->analyze(blocks.block(b));
      } else {
        const auto t0 = Clock::now();
        for (std::size_t b = 0; b < blocks.count(); ++b) method->analyze(blocks.block(b));
        if (!counting) times.count = std::min(times.count, std::chrono::duration<double>(Clock::now() - t0).count());
        else ++extra_passes;
        counting = true;
      }
      method->finish_pass(local);
    }
  }
  std::vector<float> out(kBlock);
  merged.assign(n * dtype_size(dtype), 0);
  times.merge = seconds_of(
      [&] {
        for (std::size_t b = 0; b < blocks.count(); ++b) {
          const Block<float> block = blocks.block(b);
          method->merge(block, std::span<float>(out.data(), block.size()));
          encode_counting_nonfinite<float>(std::span<const float>(out.data(), block.size()), dtype,
                                           std::span<std::uint8_t>(merged).subspan(b * kBlock * dtype_size(dtype),
                                                                                   block.size() * dtype_size(dtype)));
        }
      },
      repeats);
  return times;
}

// The radix fallback's first pass (16-bit digits of 31-bit keys) over one task's keys.
void radix_rows(std::size_t n, int repeats, double& before_s, double& now_s) {
  const auto raw = make_inputs(DType::f32, n);
  std::vector<float> base(n), model(n);
  decode<float>(DType::f32, raw[0], base);
  decode<float>(DType::f32, raw[1], model);
  std::vector<std::uint32_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = static_cast<std::uint32_t>(bits::magnitude_key(model[i] - base[i]));
  std::vector<std::int64_t> bins(std::size_t{1} << 16);
  before_s = seconds_of(
      [&] {
        std::fill(bins.begin(), bins.end(), 0);
        for (std::size_t at = 0; at < n; at += kBlock)
          before::radix_count<std::uint32_t>(bins, std::span<const std::uint32_t>(keys).subspan(at, std::min(kBlock, n - at)),
                                             15, 0xFFFF);
      },
      repeats);
  now_s = seconds_of(
      [&] {
        RadixSelection radix({n / 2}, 31, std::size_t{1} << 16);
        for (std::size_t at = 0; at < n; at += kBlock)
          radix.count(0, std::span<const std::uint32_t>(keys).subspan(at, std::min(kBlock, n - at)));
      },
      repeats);
}

}  // namespace
}  // namespace mpimerge

int main(int argc, char** argv) {
  using namespace mpimerge;
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : (std::size_t{1} << 22);
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const double entries = static_cast<double>(n) * kTasks;
  auto ns = [&](double s) { return s * 1e9 / entries; };
  std::printf("TIES kernels, one rank, %zu parameters x %zu tasks + base, density %.1f, model scope, blocks of %zu; "
              "fastest of %d; ns per model entry per pass\n\n",
              n, kTasks, kDensity, kBlock, repeats);
  std::printf("| dtype | pass | before | now | speed-up |\n|---|---|---|---|---|\n");
  bool all_identical = true;
  const std::string only = argc > 3 ? argv[3] : "";  // one dtype's name (BF16, F16, F32), for profiling
  for (const DType dtype : {DType::bf16, DType::f16, DType::f32}) {
    if (!only.empty() && only != dtype_name(dtype)) continue;
    const auto raw = make_inputs(dtype, n);
    std::vector<std::uint8_t> merged_before, merged_now;
    int extra = 0;
    // Before and now alternate, so that both meet the same moments of a shared machine's load.
    PassTimes before{1e30, 1e30, 1e30}, now{1e30, 1e30, 1e30};
    auto keep_fastest = [](PassTimes& best, const PassTimes& t) {
      best.decode = std::min(best.decode, t.decode);
      best.count = std::min(best.count, t.count);
      best.merge = std::min(best.merge, t.merge);
    };
    for (int r = 0; r < repeats; ++r) {
      keep_fastest(before, run_before(raw, dtype, n, 1, merged_before));
      keep_fastest(now, run_now(raw, dtype, n, 1, merged_now, extra));
    }
    const bool identical = merged_before == merged_now;
    all_identical &= identical;
    const char* name = dtype_name(dtype).data();
    auto row = [&](const char* pass, double b, double a) {
      std::printf("| %s | %s | %.2f | %.2f | %.2fx |\n", name, pass, ns(b), ns(a), b / a);
    };
    // decode covers base + tasks: per model entry it is (tasks + 1) / tasks conversions.
    row("decode (base + models)", before.decode, now.decode);
    row("counting pass (decode included)", before.count, now.count);
    row("merge pass (decode, encode included)", before.merge, now.merge);
    if (!identical || extra != 0)
      std::printf("| %s | merged bytes %s; extra passes now: %d | | | |\n", name, identical ? "identical" : "DIFFER", extra);
  }
  double radix_before = 0, radix_now = 0;
  radix_rows(n, repeats, radix_before, radix_now);
  std::printf("| f32 keys | radix histogram, 2^16 bins (per key; now: RadixSelection, construction included) | %.2f | %.2f | %.2fx |\n",
              radix_before * 1e9 / static_cast<double>(n), radix_now * 1e9 / static_cast<double>(n),
              radix_before / radix_now);
  std::printf("\nmerged bytes before and now: %s\n", all_identical ? "identical for every dtype" : "DIFFERENT");
  return all_identical ? 0 : 1;
}
