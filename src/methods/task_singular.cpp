#include "mpimerge/methods/task_singular.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "mpimerge/error.hpp"
#include "mpimerge/tensor.hpp"
#include "mpimerge/util/format.hpp"

namespace mpimerge {
namespace {

template <class T>
std::size_t model_count(const Block<T>& b) {
  return b.models.size();
}

}  // namespace

TaskVectors::TaskVectors(const Block<float>& whole) : base_f32_(whole.base), models_f32_(whole.models) {}
TaskVectors::TaskVectors(const Block<double>& whole) : base_f64_(whole.base), models_f64_(whole.models) {}

void TaskVectors::task(std::size_t t, std::span<double> out) const {
  if (!models_f32_.empty()) {
    const auto m = models_f32_[t];
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(m[i]) - static_cast<double>(base_f32_[i]);
  } else {
    const auto m = models_f64_[t];
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = m[i] - base_f64_[i];
  }
}

void TaskVectors::sum(std::span<double> out) const {
  std::fill(out.begin(), out.end(), 0.0);
  for (std::size_t t = 0; t < count(); ++t) {
    if (!models_f32_.empty()) {
      const auto m = models_f32_[t];
      for (std::size_t i = 0; i < out.size(); ++i) out[i] += static_cast<double>(m[i]) - static_cast<double>(base_f32_[i]);
    } else {
      const auto m = models_f64_[t];
      for (std::size_t i = 0; i < out.size(); ++i) out[i] += m[i] - base_f64_[i];
    }
  }
}

bool TaskVectors::finite() const {
  auto all_finite = [](auto span) { return std::all_of(span.begin(), span.end(), [](auto v) { return std::isfinite(v); }); };
  if (!models_f32_.empty())
    return all_finite(base_f32_) && std::all_of(models_f32_.begin(), models_f32_.end(), all_finite);
  return all_finite(base_f64_) && std::all_of(models_f64_.begin(), models_f64_.end(), all_finite);
}

std::size_t tsv_kept_per_task(std::size_t r, std::size_t tasks) {
  return static_cast<std::size_t>(static_cast<double>(r) * (1.0 / static_cast<double>(tasks)));
}

std::optional<SubspaceSplit> iso_cts_subspace_split(std::size_t r, std::size_t tasks, double fraction) {
  const auto t = static_cast<double>(tasks);
  const auto dims = static_cast<std::int64_t>(r);
  const auto common = static_cast<std::int64_t>(static_cast<double>(r) * fraction);
  // std::nearbyint rounds half to even in the default rounding mode, as Python's round().
  const auto task_total = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(dims - common) / t)) *
                          static_cast<std::int64_t>(tasks);
  const std::int64_t kept_common = dims - task_total;
  if (kept_common < 0) return std::nullopt;
  const auto per_task = static_cast<std::int64_t>(static_cast<double>(dims - kept_common) / t);
  return SubspaceSplit{static_cast<std::size_t>(kept_common), static_cast<std::size_t>(per_task)};
}

std::vector<std::string> exclude_patterns(const std::string& value) {
  std::vector<std::string> out;
  if (value == "none") return out;
  std::size_t begin = 0;
  while (begin <= value.size()) {
    std::size_t end = value.find(',', begin);
    if (end == std::string::npos) end = value.size();
    std::string part = value.substr(begin, end - begin);
    const auto first = part.find_first_not_of(' ');
    const auto last = part.find_last_not_of(' ');
    if (first != std::string::npos) out.push_back(part.substr(first, last - first + 1));
    begin = end + 1;
  }
  return out;
}

bool excluded(const std::vector<std::string>& patterns, const std::string& tensor_name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return fnmatch(p.c_str(), tensor_name.c_str(), 0) == 0; });
}

TaskSingularMerge::TaskSingularMerge(const MethodArgs& args, std::string_view name) : args_(args), name_(name) {}

void TaskSingularMerge::start(const MergeShape& shape) {
  MergeMethod::start(shape);
  linalg::use_one_blas_thread();
  const ParameterView params(args_.params, args_.spec->parameters, shape_, name_);
  const std::vector<std::string> patterns = exclude_patterns(params.uniform_word("exclude"));
  lambda_.clear();
  whole_.clear();
  excluded_ = 0;
  stats_ = {};
  shape_times_.clear();
  for (std::size_t t = 0; t < shape.tensors.size(); ++t) {
    const MergedTensor& info = shape.tensors[t];
    lambda_.push_back(params.number("lambda", t));
    const bool matrix = info.shape.size() == 2 && info.elements > 0;
    const bool skip = matrix && excluded(patterns, info.name);
    excluded_ += skip;
    whole_.push_back(matrix && !skip);
    if (!whole_.back()) continue;
    start_matrix(params, {t, info.name, static_cast<std::size_t>(info.shape[0]), static_cast<std::size_t>(info.shape[1])});
    ++shape_times_[{info.shape[0], info.shape[1]}].matrices;
  }
}

std::optional<WholeMerge> TaskSingularMerge::whole_merge(std::size_t tensor) const {
  if (tensor >= whole_.size() || !whole_[tensor]) return std::nullopt;
  const MergedTensor& info = shape_.tensors[tensor];
  return cost(static_cast<std::size_t>(info.shape[0]), static_cast<std::size_t>(info.shape[1]), shape_.models);
}

// Every tensor that is not a decomposed matrix: θ = θ_base + λ · mean_t τ_t, in float64.
template <class T>
void TaskSingularMerge::mean_update(const Block<T>& in, std::span<T> out) const {
  const double lambda = lambda_[in.tensor];
  const double tasks = static_cast<double>(model_count(in));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double base = static_cast<double>(in.base[i]);
    double sum = 0;
    for (const auto& m : in.models) sum += static_cast<double>(m[i]) - base;
    out[i] = static_cast<T>(base + lambda * (sum / tasks));
  }
}

template <class T>
void TaskSingularMerge::whole_update(const Block<T>& whole, std::span<T> out) {
  const MergedTensor& info = shape_.tensors[whole.tensor];
  const SpectralMatrix matrix{whole.tensor, info.name, static_cast<std::size_t>(info.shape[0]),
                              static_cast<std::size_t>(info.shape[1])};
  if (!whole_[whole.tensor] || out.size() != matrix.rows * matrix.cols)
    throw Error(name_ + ": '" + info.name + "' is not a matrix this method merges whole");
  const auto started = std::chrono::steady_clock::now();
  const TaskVectors taus(whole);
  if (!taus.finite())
    throw InputError(name_ + ": '" + info.name +
                     "' holds NaN or infinite values (--allow-nonfinite): its singular vectors are not defined");
  const linalg::SpectralProduct product = merged_update(matrix, taus, stats_);
  const double lambda = lambda_[whole.tensor];
  const std::size_t rows_per_block = std::max<std::size_t>(1, kUpdateBlockValues / std::max<std::size_t>(1, matrix.cols));
  std::vector<double> update(std::min(matrix.rows, rows_per_block) * matrix.cols);
  for (std::size_t first = 0; first < matrix.rows; first += rows_per_block) {
    const std::size_t count = std::min(rows_per_block, matrix.rows - first);
    product.rows(first, count, update);
    const std::size_t offset = first * matrix.cols;
    for (std::size_t i = 0; i < count * matrix.cols; ++i)
      out[offset + i] = static_cast<T>(static_cast<double>(whole.base[offset + i]) + lambda * update[i]);
  }
  shape_times_[{info.shape[0], info.shape[1]}].microseconds +=
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
}

void TaskSingularMerge::merge(const Block<float>& in, std::span<float> out) { mean_update(in, out); }
void TaskSingularMerge::merge(const Block<double>& in, std::span<double> out) { mean_update(in, out); }
void TaskSingularMerge::merge_whole(const Block<float>& whole, std::span<float> out) { whole_update(whole, out); }
void TaskSingularMerge::merge_whole(const Block<double>& whole, std::span<double> out) { whole_update(whole, out); }

void TaskSingularMerge::finish_merge(Reductions& reductions) {
  std::int64_t counts[] = {static_cast<std::int64_t>(stats_.gram), static_cast<std::int64_t>(stats_.direct)};
  reductions.sum(counts);
  stats_.gram = static_cast<std::size_t>(counts[0]);
  stats_.direct = static_cast<std::size_t>(counts[1]);
  std::vector<std::int64_t> times;
  for (const auto& [shape, time] : shape_times_) times.push_back(time.microseconds);
  reductions.sum(times);
  std::size_t i = 0;
  for (auto& [shape, time] : shape_times_) time.microseconds = times[i++];
}

std::vector<MethodFinding> TaskSingularMerge::findings() const {
  const auto matrices = static_cast<double>(std::count(whole_.begin(), whole_.end(), true));
  std::vector<MethodFinding> out{
          {"matrices merged by their singular vectors", matrices},
          {"matrices averaged (exclude)", static_cast<double>(excluded_)},
          {"decompositions through the Gram matrix", static_cast<double>(stats_.gram)},
          {"decompositions by dgesdd (ill-conditioned or rank-deficient)", static_cast<double>(stats_.direct)}};
  for (const auto& [shape, time] : shape_times_)
    out.push_back({"seconds merging the " + std::to_string(time.matrices) + " matrices " +
                       shape_string({shape.first, shape.second}) + " (every rank's)",
                   static_cast<double>(time.microseconds) / 1e6});
  return out;
}

ParameterDef task_singular_lambda() {
  return {.name = "lambda",
          .default_value = ParameterScalar::of_number(1.0),
          .help = "scale of the merged task vector",
          .sweepable = true,
          .examples = {"0.5", "1.5"},
          .tag = "l"};
}

ParameterDef task_singular_exclude() {
  return {.name = "exclude",
          .scope = ParameterScope::merge,
          .type = ParameterType::text,
          .default_value = ParameterScalar::of_text("none"),
          .help = "tensors averaged instead of decomposed: comma-separated shell patterns of their names "
                  "(lm_head.weight,*embed*), or none",
          .examples = {"none", "*embed*"}};
}

}  // namespace mpimerge
