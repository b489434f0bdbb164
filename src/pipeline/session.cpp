#include "pipeline/session.hpp"

#include <algorithm>
#include <chrono>

#include "pipeline/analysis_runs.hpp"
#include "pipeline/block_loop.hpp"
#include "durability/fault.hpp"
#include "durability/journal.hpp"
#include "durability/nonfinite_output.hpp"
#include "pipeline/inputs.hpp"
#include "pipeline/sample_pass.hpp"
#include "pipeline/whole_tensors.hpp"
#include "pipeline/working_set.hpp"
#include "mpimerge/checksum.hpp"
#include "mpimerge/pipeline/transfers.hpp"

namespace mpimerge {
namespace {

// Runs f, adding the seconds it took on this rank to `seconds`.
template <class F>
void timed(double& seconds, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<MergeTarget*> needing(std::span<MergeTarget* const> targets, PassKind kind) {
  std::vector<MergeTarget*> out;
  for (MergeTarget* t : targets)
    if (t->method->needs_pass() && t->method->pass_kind() == kind) out.push_back(t);
  return out;
}

// Per merged tensor: whether any of the targets wants blocks of whole rows.
std::vector<bool> whole_rows_of(std::span<MergeTarget* const> targets, std::size_t tensors) {
  std::vector<bool> out(tensors, false);
  for (std::size_t t = 0; t < tensors; ++t)
    for (MergeTarget* target : targets) out[t] = out[t] || target->method->whole_rows(t);
  return out;
}

}  // namespace

MergeSession::MergeSession(const MergePlan& plan, const WorkPlan& work, const InputSet& inputs,
                           const mpi::Comm& comm, Progress& progress)
    : plan_(plan), inputs_(inputs), comm_(comm), progress_(progress), phases_(comm, {"read", "select", "merge", "write"}),
      input_checksums_(inputs.readers.size(), std::vector<std::uint64_t>(plan.tensors.size(), 0)) {
  switch_work(work);
}

void MergeSession::switch_work(const WorkPlan& work) {
  earlier_reads_ = data_reads();
  loads_.assign(work.groups.size(), 0);
  work_ = &work;
  slices_.reset();  // its buffers back to the pool before the next ones are taken
  slices_ = std::make_unique<GroupSlices>(plan_, work, inputs_, comm_);
  // The merged output's buffer at the largest group's size, once (see GroupSlices), taken when the
  // merge pass starts: until then the analysis may hold its bytes (MergeShape::idle_output_memory).
  std::uint64_t most = 0;
  for (std::size_t g = 0; g < work.groups.size(); ++g) {
    std::uint64_t total = 0;
    for (const WorkUnit& unit : work.groups[g]) {
      const TensorInfo& out = plan_.tensors[unit.tensor].output;
      total += (work.rows(plan_, unit, comm_.rank(), comm_.size()).count() * out.row_elements() * dtype_size(out.dtype) + 63) / 64 * 64;
    }
    most = std::max(most, total);
  }
  output_bytes_ = most;
  checked_.assign(work.groups.size(), false);
  last_group_.assign(plan_.tensors.size(), static_cast<std::size_t>(-1));
  for (std::size_t g = 0; g < work.groups.size(); ++g)
    for (const WorkUnit& unit : work.groups[g]) last_group_[unit.tensor] = g;
}

std::uint64_t MergeSession::most_bytes(std::size_t group, bool inputs) const {
  return work_->most_bytes(plan_, group, comm_.size(), inputs);
}

int MergeSession::data_reads() const {
  return earlier_reads_ + (loads_.empty() ? 0 : *std::max_element(loads_.begin(), loads_.end()));
}

void MergeSession::load(std::size_t g, GroupRange pass) {
  if (slices_->loaded_group() == g) return;
  ++loads_[g];
  const std::uint64_t before = slices_->bytes_read();
  phases_.collective("read", [&] {
    slices_->load(g);
    return slices_->bytes_read() - before;
  });
  if (work_->streaming()) read_ahead(g, pass);
  ++load_count_;
  if (checked_[g]) return;
  // First time this group is read: check it, and fold it into the inputs' checksums.
  mpi::run_agreed(comm_, [&] { check_slices(plan_, inputs_, *slices_, allow_nonfinite_); });
  for (std::size_t i = 0; i < inputs_.readers.size(); ++i)
    for (std::size_t u = 0; u < slices_->units(); ++u) {
      const PlannedTensor& t = plan_.tensors[slices_->unit(u).tensor];
      input_checksums_[i][slices_->unit(u).tensor] +=
          partial_checksum(slices_->raw(i, u), slices_->rows(u).begin, t.output.row_elements() * dtype_size(t.input_dtype[i]));
    }
  checked_[g] = true;
}

// Streaming: the file system reads ahead while this group is computed: the groups that follow in
// this pass, up to kReadAheadBytes of them (several when groups are small, so that a cold read
// keeps the disk as busy as large groups do), then the next pass's first; each hinted once.
void MergeSession::read_ahead(std::size_t g, GroupRange pass) {
  std::uint64_t ahead = 0;
  for (std::uint64_t step = 1; ahead < kReadAheadBytes; ++step) {
    const bool wraps = g + step >= pass.end;
    const std::size_t group = wraps ? pass.first : g + step;
    if (load_count_ + step >= hinted_until_) {
      slices_->prefetch(group);
      hinted_until_ = load_count_ + step + 1;
    }
    if (wraps) break;  // the next pass's first group: whether more passes come is not known here
    ahead += most_bytes(group, true);
  }
}

void MergeSession::analyze(std::span<MergeTarget* const> targets) {
  // Methods that analyse each tensor on its own, under a memory too small for all of their
  // tensors at once, analyse a run of tensors at a time (pipeline/analysis_runs.hpp).
  std::vector<MergeTarget*> analysing;
  for (MergeTarget* t : targets)
    if (t->method->needs_pass()) analysing.push_back(t);
  std::vector<std::uint64_t> wants;
  bool per_tensor = !analysing.empty();
  for (std::size_t m = 0; m < plan_.shape.tensors.size() && per_tensor; ++m) {
    std::uint64_t most = 0;
    for (MergeTarget* t : analysing) {
      const std::optional<std::uint64_t> want = t->method->tensor_analysis_memory(m);
      per_tensor = per_tensor && want.has_value();
      most = std::max(most, want.value_or(0));
    }
    wants.push_back(most);
  }
  if (!per_tensor) wants.clear();
  const std::vector<AnalysisRun> runs = mpimerge::analysis_runs(plan_, *work_, wants, plan_.shape.analysis_memory());
  if (!analysing.empty()) analysis_runs_ = std::max<std::size_t>(1, runs.size());
  if (runs.size() <= 1) {
    const std::vector<int> passes = analyze_groups(targets, work_->all_groups(), plan_.shape.sample_memory);
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i]->analysis_passes += passes[i];
    return;
  }
  // The sample over every tensor, before any slice is held (MergeShape::sample_memory), then each
  // run's passes (a sample there within MergeShape::run_sample_memory).
  mpi::CommReductions reductions(comm_);
  const std::vector<MergeTarget*> sampling = needing(analysing, PassKind::sample);
  if (!sampling.empty()) {
    sample_pass(sampling, work_->all_groups(), plan_.shape.sample_memory);
    for (MergeTarget* t : sampling) {
      finish_pass(*t, reductions);
      ++t->analysis_passes;
    }
  }
  std::vector<int> most(analysing.size(), 0);
  for (const AnalysisRun& run : runs) {
    for (MergeTarget* t : analysing) t->method->start_tensors(run.first_tensor, run.end_tensor);
    const std::vector<int> passes = analyze_groups(analysing, run.groups, plan_.shape.run_sample_memory());
    for (std::size_t i = 0; i < analysing.size(); ++i) most[i] = std::max(most[i], passes[i]);
  }
  for (std::size_t i = 0; i < analysing.size(); ++i) analysing[i]->analysis_passes += most[i];
}

std::vector<int> MergeSession::analyze_groups(std::span<MergeTarget* const> targets, GroupRange groups,
                                              std::uint64_t sample_memory) {
  mpi::CommReductions reductions(comm_);
  std::vector<int> passes(targets.size(), 0);
  while (true) {
    const std::vector<MergeTarget*> sampling = needing(targets, PassKind::sample);
    const std::vector<MergeTarget*> full = needing(targets, PassKind::full);
    if (sampling.empty() && full.empty()) break;
    if (!sampling.empty()) sample_pass(sampling, groups, sample_memory);
    if (!full.empty()) full_pass(full, groups);
    for (auto* group : {&sampling, &full})
      for (MergeTarget* t : *group) {
        finish_pass(*t, reductions);
        ++passes[static_cast<std::size_t>(std::find(targets.begin(), targets.end(), t) - targets.begin())];
      }
  }
  return passes;
}

// The method's finish_pass reduces first and fails, if at all, identically on every rank.
void MergeSession::finish_pass(MergeTarget& target, Reductions& reductions) {
  phases_.local("select", [&] {
    timed(target.seconds, [&] { mpi::run_agreed(comm_, [&] { target.method->finish_pass(reductions); }); });
    return std::uint64_t{0};
  });
}

void MergeSession::sample_pass(std::span<MergeTarget* const> targets, GroupRange groups, std::uint64_t sample_memory) {
  // The windows differ per target only through sample_fraction; read for the first, feed all.
  std::exception_ptr error;
  phases_.collective("select", [&] {
    for_each_sampled_block(plan_, *work_, SampleScope{groups, sample_memory}, inputs_,
                           *targets.front()->method, comm_, [&](const auto& block, std::size_t, std::uint64_t) {
                             if (error) return;
                             try {
                               for (MergeTarget* t : targets) timed(t->seconds, [&] { t->method->analyze(block); });
                             } catch (...) {
                               error = std::current_exception();
                             }
                           });
    return std::uint64_t{0};
  });
  comm_.agree(error);
}

void MergeSession::full_pass(std::span<MergeTarget* const> targets, GroupRange groups) {
  std::uint64_t total = 0;
  for (std::size_t g = groups.first; g < groups.end; ++g) total += most_bytes(g, true);
  progress_.start(work_->streaming() ? "analysis pass (reading)" : "analysis pass", total, groups.end - groups.first);
  const std::vector<bool> whole_rows = whole_rows_of(targets, plan_.shape.tensors.size());
  for (std::size_t g = groups.first; g < groups.end; ++g) {
    load(g, groups);
    phases_.local("select", [&] {
      mpi::run_agreed(comm_, [&] {
        for_each_block(plan_, *slices_, inputs_, whole_rows, [&](const auto& block, std::size_t, std::uint64_t) {
          for (MergeTarget* t : targets) timed(t->seconds, [&] { t->method->analyze(block); });
        });
      });
      return std::uint64_t{0};
    });
    progress_.advance(most_bytes(g, true), 1);
  }
  progress_.finish();
}

std::vector<std::span<std::uint8_t>> MergeSession::merge_group(MergeTarget& target) {
  std::vector<std::span<std::uint8_t>> out(slices_->units());
  std::vector<std::uint64_t> offsets(slices_->units());
  std::uint64_t total = 0;
  for (std::size_t u = 0; u < slices_->units(); ++u) {
    offsets[u] = total;
    total += (slices_->elements(u) * dtype_size(plan_.tensors[slices_->unit(u).tensor].output.dtype) + 63) / 64 * 64;
  }
  const std::span<std::uint8_t> space = output_arena_.take(total);
  for (std::size_t u = 0; u < slices_->units(); ++u) {
    const PlannedTensor& tensor = plan_.tensors[slices_->unit(u).tensor];
    out[u] = space.subspan(offsets[u], slices_->elements(u) * dtype_size(tensor.output.dtype));
    if (tensor.action == TensorAction::copy_from_base) {
      const auto raw = slices_->raw(0, u);
      std::copy(raw.begin(), raw.end(), out[u].begin());
    }
  }
  std::vector<float> f32(kBlockElements);
  std::vector<double> f64(kBlockElements);
  MergeTarget* const one[] = {&target};
  const std::vector<bool> whole_rows = whole_rows_of(one, plan_.shape.tensors.size());
  const std::vector<bool> whole = whole_tensors_of(*target.method, plan_.shape.tensors.size());
  for_each_block(plan_, *slices_, inputs_, whole_rows, [&](const auto& block, std::size_t u, std::uint64_t offset) {
    using T = typename std::decay_t<decltype(block.base)>::value_type;
    std::span<T> merged;
    if constexpr (sizeof(T) == 8) {
      if (f64.size() < block.size()) f64.resize(block.size());  // whole rows longer than a block
      merged = std::span<T>(f64.data(), block.size());
    } else {
      if (f32.size() < block.size()) f32.resize(block.size());
      merged = std::span<T>(f32.data(), block.size());
    }
    target.method->merge(block, merged);
    const std::size_t t = slices_->unit(u).tensor;
    const DType dtype = plan_.tensors[t].output.dtype;
    const auto raw = out[u].subspan(offset * dtype_size(dtype), block.size() * dtype_size(dtype));
    if (allow_nonfinite_) {
      encode<T>(merged, dtype, raw);
    } else if (const std::uint64_t bad = encode_counting_nonfinite<T>(merged, dtype, raw); bad != 0) {
      target.nonfinite[t] += bad;  // refused before the rename (refuse_nonfinite)
      target.nonfinite_computed[t] += count_nonfinite_values<T>(merged);
    }
  }, whole);
  return out;
}

void MergeSession::write_group(MergeTarget& target, const std::vector<std::span<std::uint8_t>>& out) {
  // One batch for the group: one collective step for its small tensors, not one per tensor.
  std::vector<storage::RowWrite> writes;
  for (std::size_t u = 0; u < slices_->units(); ++u) {
    const WorkUnit& unit = slices_->unit(u);
    const TensorInfo& info = plan_.tensors[unit.tensor].output;
    const std::uint64_t row_bytes = info.row_elements() * dtype_size(info.dtype);
    const RowRange mine = slices_->rows(u);
    for_each_transfer(work_->most_rows(plan_, unit, comm_.size()), RowRange{0, mine.count()}, row_bytes,
                      [&](RowRange part) {
                        writes.push_back({unit.tensor, RowRange{mine.begin + part.begin, mine.begin + part.end},
                                          out[u].subspan(part.begin * row_bytes, part.count() * row_bytes)});
                      });
    target.checksums[unit.tensor] += partial_checksum(out[u], mine.begin, row_bytes);
  }
  target.writer->write_rows_batch(writes);
}

void MergeSession::merge_and_write(std::span<MergeTarget* const> targets) {
  output_arena_.reserve(output_bytes_);
  std::uint64_t total = 0;
  for (std::size_t g = 0; g < work_->groups.size(); ++g) total += most_bytes(g, false) * targets.size();
  progress_.start(targets.size() == 1 ? "merge" : "merge " + std::to_string(targets.size()) + " outputs", total,
                  work_->groups.size());
  for (MergeTarget* t : targets) {
    t->checksums.assign(plan_.tensors.size(), 0);
    t->nonfinite.assign(plan_.tensors.size(), 0);
    t->nonfinite_computed.assign(plan_.tensors.size(), 0);
  }
  // The journal records finished tensors after a sync of the output, which stalls the writes (60 ms
  // each on the benchmark's VM): once per quarter of the output, and once a minute on long merges,
  // so that a resume repeats at most that much work.
  const std::uint64_t journal_every = std::max<std::uint64_t>(1, total / targets.size() / kJournalPoints);
  std::vector<std::size_t> unjournaled_from(targets.size(), 0);
  std::vector<std::uint64_t> unjournaled_bytes(targets.size(), 0);
  auto last_journal = std::chrono::steady_clock::now();
  auto journal_due = [&](std::size_t i, std::size_t g) {
    const bool by_bytes = unjournaled_bytes[i] >= journal_every || g + 1 == work_->groups.size();
    const bool by_time = std::chrono::steady_clock::now() - last_journal >= kJournalInterval;
    return comm_.all(by_bytes || !comm_.is_root() || by_time);  // rank 0's clock decides for all
  };
  for (std::size_t g = 0; g < work_->groups.size(); ++g) {
    load(g, work_->all_groups());
    for (std::size_t i = 0; i < targets.size(); ++i) {
      MergeTarget* t = targets[i];
      give_side_data(*t, g);
      std::vector<std::span<std::uint8_t>> merged;
      phases_.local("merge", [&] {
        timed(t->seconds, [&] { mpi::run_agreed(comm_, [&] { merged = merge_group(*t); }); });
        return std::uint64_t{0};
      });
      // Whole tensors (owners decomposing matrices) can take minutes: progress after each round.
      const NonfiniteCounts counts{t->nonfinite, t->nonfinite_computed};
      const std::uint64_t shown = merge_whole_tensors(plan_, *work_, g, *slices_, inputs_, *t->method, comm_, phases_,
                                                      t->seconds, merged,
                                                      [&](std::uint64_t bytes) { progress_.advance(bytes, 0); },
                                                      allow_nonfinite_ ? nullptr : &counts);
      phases_.collective("write", [&] {
        std::uint64_t bytes = 0;
        timed(t->seconds, [&] {
          write_group(*t, merged);
          for (const auto& m : merged) bytes += m.size();
        });
        return bytes;
      });
      for (const WorkUnit& unit : work_->groups[g])
        if (last_group_[unit.tensor] == g && plan_.tensors[unit.tensor].action == TensorAction::merge)
          t->method->release_side_data(plan_.tensors[unit.tensor].merged_index);
      const std::uint64_t written = most_bytes(g, false);
      unjournaled_bytes[i] += written;
      if (!t->journal.empty() && journal_due(i, g)) {
        journal_completed(*t, unjournaled_from[i], g);
        last_journal = std::chrono::steady_clock::now();
        unjournaled_from[i] = g + 1;
        unjournaled_bytes[i] = 0;
      }
      progress_.advance(written - std::min(written, shown), t == targets.back() ? 1 : 0);
    }
  }
  progress_.finish();
  mpi::CommReductions reductions(comm_);
  for (MergeTarget* t : targets) {
    mpi::run_agreed(comm_, [&] { t->method->finish_merge(reductions); });
    if (!allow_nonfinite_) refuse_nonfinite(*t);
    comm_.sum(std::span<std::uint64_t>(t->checksums));
    for (std::size_t i = 0; i < plan_.tensors.size(); ++i)
      t->checksums[i] = i < t->finished.size() && t->finished[i] ? *t->finished[i]
                                                                 : finish_checksum(t->checksums[i], plan_.tensors[i].output);
    phases_.collective("write", [&] {
      timed(t->seconds, [&] {
        t->writer->set_checksums(t->checksums);
        t->writer->finish();
      });
      return std::uint64_t{0};
    });
  }
}

void MergeSession::refuse_nonfinite(MergeTarget& target) {
  comm_.sum(std::span<std::uint64_t>(target.nonfinite));
  comm_.sum(std::span<std::uint64_t>(target.nonfinite_computed));
  mpi::run_agreed(comm_, [&] {
    for (std::size_t t = 0; t < plan_.tensors.size(); ++t)
      if (target.nonfinite[t] != 0)
        throw InputError(nonfinite_output_message(target.job, plan_.tensors[t], target.nonfinite[t], target.nonfinite_computed[t]));
  });
}

void MergeSession::give_side_data(MergeTarget& target, std::size_t group) {
  if (inputs_.side.empty()) return;
  for (const WorkUnit& unit : work_->groups[group]) {
    const PlannedTensor& tensor = plan_.tensors[unit.tensor];
    // Once per tensor and pass: at its first unit (its units are consecutive, in chunk order).
    if (tensor.action != TensorAction::merge || unit.chunk != 0) continue;
    if (!target.method->wants_side_data(tensor.merged_index)) continue;
    std::vector<SideMatrix> matrices;
    phases_.collective("read", [&] {
      matrices = read_side_matrices(tensor, inputs_);
      std::uint64_t bytes = 0;
      for (const auto& m : matrices) bytes += m.values.size() * sizeof(double);
      return bytes;
    });
    phases_.local("merge", [&] {
      timed(target.seconds, [&] {
        mpi::run_agreed(comm_, [&] { target.method->tensor_side_data(tensor.merged_index, std::move(matrices)); });
      });
      return std::uint64_t{0};
    });
  }
}

void MergeSession::journal_completed(MergeTarget& target, std::size_t first_group, std::size_t last_group) {
  std::vector<std::size_t> completed;
  for (std::size_t t = 0; t < plan_.tensors.size(); ++t)
    if (last_group_[t] >= first_group && last_group_[t] <= last_group) completed.push_back(t);
  if (completed.empty()) return;
  phases_.collective("write", [&] {
    target.writer->flush();  // durable before the journal says so
    fault_point("write", comm_.rank(), target.journaled);
    return std::uint64_t{0};
  });
  std::vector<std::uint64_t> sums;
  for (std::size_t t : completed) sums.push_back(target.checksums[t]);
  comm_.sum(std::span<std::uint64_t>(sums));
  std::map<std::string, std::uint64_t> done;
  for (std::size_t i = 0; i < completed.size(); ++i)
    done[plan_.tensors[completed[i]].output.name] = finish_checksum(sums[i], plan_.tensors[completed[i]].output);
  mpi::run_agreed(comm_, [&] {
    if (comm_.is_root()) Journal::append_done(target.journal, done);
  });
  target.journaled += completed.size();
  fault_point("tensors-done", comm_.rank(), target.journaled);
}

std::vector<std::vector<std::uint64_t>> MergeSession::input_checksums() const {
  std::vector<std::vector<std::uint64_t>> out = input_checksums_;
  for (std::size_t i = 0; i < out.size(); ++i) {
    comm_.sum(std::span<std::uint64_t>(out[i]));
    for (std::size_t t = 0; t < plan_.tensors.size(); ++t) {
      TensorInfo info = plan_.tensors[t].output;
      info.dtype = plan_.tensors[t].input_dtype[i];
      out[i][t] = finish_checksum(out[i][t], info);
    }
  }
  return out;
}

}  // namespace mpimerge
