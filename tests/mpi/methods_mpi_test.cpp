// Every method (issues #4 and #17) through the whole engine at this rank count, with and without
// streaming (a memory budget far below the inputs), compared bit for bit with the same method run
// on one process over whole tensors (tests/support/method_driver.hpp), whose formulas the unit
// tests check. Run at 1, 2, 3 and 4 ranks, this pins outputs that do not depend on the rank count.
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <random>

#include "mpimerge/convert.hpp"
#include "mpimerge/commands/merge.hpp"
#include "mpimerge/methods/registry.hpp"
#include "support/checkpoint_files.hpp"
#include "support/method_driver.hpp"
#include "support/world.hpp"

namespace mpimerge {
namespace {

using testing::CheckpointSet;
using testing::world;

struct MethodCase {
  std::string label;
  std::function<void(MethodOptions&)> configure;
  std::size_t models = 3;
  bool fisher = false, gram = false;
  // A budget far below the inputs: the merge streams. 0: just room for the merge of the [7, 5]
  // matrix whole beside its rows (methods that merge matrices whole: see stream_budget_for_whole).
  std::uint64_t stream_budget = 600;
};

// The budget whose work-plan share (7/8) holds exactly rank 0's rows of the f32 [7, 5] matrix and
// its merge whole: every other tensor then goes to another group, at any rank count.
std::uint64_t stream_budget_for_whole(const MergeMethod& method, std::size_t tensor, std::size_t models) {
  const std::uint64_t elements = 35, inputs = models + 1;
  const std::uint64_t owner = method.whole_merge(tensor)->work_bytes + elements * (4 + 4) + inputs * elements * (4 + 4);
  const std::uint64_t rows = owned_rows(7, 0, world().size()).count() * 5 * (inputs * 4 + 4);
  return ((owner + rows) * 8 + 6) / 7 + 8;
}

// Gram matrices for the two matrices of the random set: [7, 5] (f32) and [2, 3] (f64).
const std::vector<TensorInfo> kGramTensors{{"model.layers.0.mlp.down_proj.weight", DType::f32, {5, 5}},
                                           {"small_rows", DType::f64, {3, 3}}};

std::vector<double> random_gram(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> v(-4, 4);
  std::vector<double> x(3 * n * n), g(n * n, 0.0);
  for (auto& e : x) e = v(rng) * 0.25;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t r = 0; r < 3 * n; ++r) g[i * n + j] += x[r * n + i] * x[r * n + j];
  return g;
}

class EngineMethods : public ::testing::TestWithParam<MethodCase> {};

TEST_P(EngineMethods, SameBytesAsOneProcessAtAnyRankCountAndBudget) {
  const MethodCase c = GetParam();
  testing::SetOptions options;
  options.models = c.models;
  options.seed = 21;
  const CheckpointSet set = testing::random_checkpoint_set(options);
  testing::SharedTempDir dir(world());
  MergeJob job;
  job.quiet = true;
  job.report = false;
  job.method.method = "";
  c.configure(job.method);
  testing::write_checkpoint(dir.file("base.h5"), set.tensors, set.base, world());
  job.base = dir.file("base.h5");
  std::vector<testing::RawCheckpoint> fisher(c.models), gram(c.models);
  for (std::size_t m = 0; m < c.models; ++m) {
    job.models.push_back(dir.file("ft-" + std::to_string(m) + ".h5"));
    testing::write_checkpoint(job.models.back(), set.tensors, set.models[m], world());
    if (c.fisher) {  // |model| + m/8 as a diagonal Fisher: positive, with zeros
      std::vector<TensorInfo> floats;
      for (std::size_t t = 0; t < set.tensors.size(); ++t) {
        if (!is_float(set.tensors[t].dtype) || t == 1) continue;  // tensor 1 has no Fisher: averaged
        floats.push_back(set.tensors[t]);
        std::vector<double> v(set.tensors[t].elements());
        decode<double>(set.tensors[t].dtype, set.models[m][t], v);
        for (auto& x : v) x = std::fabs(x) * (m + 1);
        fisher[m].emplace_back(set.tensors[t].bytes());
        encode<double>(v, set.tensors[t].dtype, fisher[m].back());
      }
      job.side_inputs["fisher"].push_back(dir.file("fisher-" + std::to_string(m) + ".h5"));
      testing::write_checkpoint(job.side_inputs["fisher"].back(), floats, fisher[m], world());
    }
    if (c.gram) {
      for (std::size_t g = 0; g < kGramTensors.size(); ++g) {
        const auto values = random_gram(static_cast<std::size_t>(kGramTensors[g].shape[0]), 100 * m + g);
        gram[m].emplace_back(kGramTensors[g].bytes());
        encode<double>(values, kGramTensors[g].dtype, gram[m].back());
      }
      job.side_inputs["gram"].push_back(dir.file("gram-" + std::to_string(m) + ".h5"));
      testing::write_checkpoint(job.side_inputs["gram"].back(), kGramTensors, gram[m], world());
    }
  }

  // The reference: the method on this process over whole tensors.
  testing::DriverInput in;
  in.shape.models = c.models;
  in.shape.has_base = true;
  in.shape.aligned_inputs = job.side_inputs["fisher"].size();
  in.shape.side_inputs = job.side_inputs["gram"].size();
  std::vector<std::size_t> merged;
  for (std::size_t t = 0; t < set.tensors.size(); ++t) {
    const TensorInfo& info = set.tensors[t];
    if (!is_float(info.dtype)) continue;
    merged.push_back(t);
    MergedTensor shape{info.name, info.shape, info.elements(), info.dtype == DType::f64 ? ComputeType::f64 : ComputeType::f32};
    auto fill = [&](auto& tensor) {
      using T = typename std::decay_t<decltype(tensor)>::value_type;
      auto values = [&](DType dtype, const testing::RawTensor& raw) {
        std::vector<T> v(info.elements());
        decode<T>(dtype, raw, v);
        return v;
      };
      tensor.base = values(info.dtype, set.base[t]);
      for (std::size_t m = 0; m < c.models; ++m) tensor.models.push_back(values(info.dtype, set.models[m][t]));
      for (std::size_t m = 0; m < job.side_inputs["fisher"].size(); ++m) {
        const std::size_t k = t == 0 ? 0 : t - 1;  // the Fisher files skip tensor 1
        tensor.aligned.push_back(t == 1 ? std::vector<T>{} : values(info.dtype, fisher[m][k]));
        shape.aligned_present.push_back(t != 1);
      }
      for (std::size_t m = 0; m < job.side_inputs["gram"].size(); ++m) {
        std::optional<std::vector<std::uint64_t>> side;
        for (std::size_t g = 0; g < kGramTensors.size(); ++g)
          if (kGramTensors[g].name == info.name) {
            side = kGramTensors[g].shape;
            SideMatrix matrix{kGramTensors[g].shape, std::vector<double>(kGramTensors[g].elements())};
            decode<double>(kGramTensors[g].dtype, gram[m][g], matrix.values);
            tensor.side.push_back(matrix);
          }
        if (!side) tensor.side.push_back({});
        shape.side_shapes.push_back(side);
      }
    };
    if (shape.compute == ComputeType::f64) fill(in.f64.emplace_back());
    else fill(in.f32.emplace_back());
    in.shape.tensors.push_back(shape);
  }
  in.shape.method_memory = 1 << 20;
  auto reference_method = make_method(job.method, c.models);
  const testing::DriverOutput reference = testing::run_serially(*reference_method, in, 4096);
  std::map<std::string, testing::RawTensor> expected;
  std::size_t i32 = 0, i64 = 0;
  for (std::size_t t = 0; t < set.tensors.size(); ++t) {
    const TensorInfo& info = set.tensors[t];
    testing::RawTensor raw(info.bytes());
    if (!is_float(info.dtype)) raw = set.base[t];
    else if (info.dtype == DType::f64) encode<double>(reference.f64[i64++], info.dtype, raw);
    else encode<float>(reference.f32[i32++], info.dtype, raw);
    expected[info.name] = raw;
  }

  const std::uint64_t stream_budget = c.stream_budget ? c.stream_budget : stream_budget_for_whole(*reference_method, 0, c.models);
  for (std::optional<std::uint64_t> budget : {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{stream_budget}}) {
    job.memory_budget = budget;
    job.output = dir.file(budget ? "streamed.h5" : "merged.h5");
    const Log silent(false, true, std::cout);
    const MergeSummary summary = run_merge(job, world(), silent);
    if (budget) {
      EXPECT_GT(summary.groups, 1u) << "the small budget streams";
    }
    testing::RawCheckpoint raw;
    const auto infos = testing::read_checkpoint(job.output, raw, world());
    ASSERT_EQ(infos.size(), set.tensors.size());
    for (std::size_t t = 0; t < infos.size(); ++t)
      EXPECT_EQ(raw[t], expected[infos[t].name]) << c.label << ": tensor " << infos[t].name << " at "
                                                  << world().size() << " ranks, budget " << budget.value_or(0);
  }
}

MethodCase make_case(std::string label, std::function<void(MethodOptions&)> f, std::size_t models = 3, bool fisher = false,
                     bool gram = false) {
  return MethodCase{std::move(label), std::move(f), models, fisher, gram};
}

void weights(MethodOptions& o, std::vector<double> w, std::vector<double> d = {}) {
  o.mergekit_rules = true;
  for (std::size_t m = 0; m < w.size(); ++m) {
    o.set_model(m, "weight", w[m]);
    if (!d.empty()) o.set_model(m, "density", d[m]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllMethods, EngineMethods,
    ::testing::Values(
        make_case("linear", [](MethodOptions& o) { o.method = "linear"; weights(o, {0.5, 1, 2}); }),
        make_case("task_arithmetic", [](MethodOptions& o) { o.method = "task_arithmetic"; weights(o, {0.5, 1, 2}); o.set("lambda", 0.8); }),
        make_case("ties_mergekit", [](MethodOptions& o) { o.method = "ties"; weights(o, {1, 0.5, 1}, {0.3, 0.5, 0.2}); }),
        make_case("ties_paper_from_job", [](MethodOptions& o) { o.method = "ties"; o.mergekit_rules = true; o.set("trim_scope", "tensor"); o.set("density", 0.4); }),
        make_case("magnitude_prune", [](MethodOptions& o) { o.method = "magnitude_prune"; weights(o, {1, 1, 1}, {0.3, 0.3, 0.6}); }),
        make_case("dare_linear", [](MethodOptions& o) { o.method = "dare_linear"; weights(o, {1, 1, 0.5}, {0.5, 0.7, 0.3}); o.set("seed", 5.0); }),
        make_case("dare_ties_l1", [](MethodOptions& o) { o.method = "dare_ties"; weights(o, {1, 1, 1}, {0.5, 0.5, 0.5}); o.set("rescale", "l1"); }),
        make_case("breadcrumbs", [](MethodOptions& o) { o.method = "breadcrumbs"; weights(o, {1, 1, 1}, {0.6, 0.6, 0.6}); o.set("gamma", 0.1); }),
        make_case("breadcrumbs_ties", [](MethodOptions& o) { o.method = "breadcrumbs_ties"; weights(o, {1, 2, 1}, {0.6, 0.5, 0.6}); }),
        make_case("della", [](MethodOptions& o) { o.method = "della"; weights(o, {1, 1, 1}, {0.5, 0.5, 0.5}); o.set("epsilon", 0.1); }),
        make_case("della_linear_l1", [](MethodOptions& o) { o.method = "della_linear"; weights(o, {1, 1, 1}, {0.5, 0.5, 0.4}); o.set("rescale", "l1"); }),
        make_case("slerp", [](MethodOptions& o) { o.method = "slerp"; o.set("t", 0.35); }, 1),
        make_case("model_stock", [](MethodOptions& o) { o.method = "model_stock"; }),
        make_case("model_stock_filter_wise", [](MethodOptions& o) { o.method = "model_stock"; o.set_flag("filter_wise", true); }),
        make_case("nuslerp", [](MethodOptions& o) { o.method = "nuslerp"; weights(o, {0.4, 1}); }, 2),
        make_case("nuslerp_rows", [](MethodOptions& o) { o.method = "nuslerp"; weights(o, {1, 1}); o.set_flag("nuslerp_flatten", false); }, 2),
        make_case("nuslerp_columns", [](MethodOptions& o) { o.method = "nuslerp"; weights(o, {2, 1}); o.set_flag("nuslerp_flatten", false); o.set_flag("nuslerp_row_wise", true); }, 2),
        make_case("multislerp", [](MethodOptions& o) { o.method = "multislerp"; weights(o, {1, 0.5, 2}); }),
        make_case("karcher", [](MethodOptions& o) { o.method = "karcher"; o.set("max_iter", 20.0); }),
        make_case("sce", [](MethodOptions& o) { o.method = "sce"; o.set("select_topk", 0.3); }),
        make_case("arcee_fusion", [](MethodOptions& o) { o.method = "arcee_fusion"; }, 1),
        make_case("nearswap", [](MethodOptions& o) { o.method = "nearswap"; o.set("t", 0.02); }, 1),
        make_case("fisher", [](MethodOptions& o) { o.method = "fisher"; o.set_model(1, "weight", 2.0); }, 3, true),
        make_case("regmean", [](MethodOptions& o) { o.method = "regmean"; o.set("alpha", 0.9); }, 2, false, true),
        MethodCase{"tsv_m", [](MethodOptions& o) { o.method = "tsv_m"; o.set("lambda", 0.8); }, 3, false, false, 0},
        MethodCase{"iso_c", [](MethodOptions& o) { o.method = "iso_c"; }, 3, false, false, 0},
        MethodCase{"iso_cts", [](MethodOptions& o) { o.method = "iso_cts"; o.set("common_space_fraction", 0.5); }, 3, false,
                   false, 0}),
    [](const auto& info) { return info.param.label; });

}  // namespace
}  // namespace mpimerge
