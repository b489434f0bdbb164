// mergekit's nuslerp, multislerp, karcher, sce, arcee_fusion and nearswap on one process
// (LocalReductions), fed in blocks of several sizes (whole rows where a method asks), against the
// serial formulas of tests/support/serial_mergekit_methods.hpp; and their one-line errors.
#include <gtest/gtest.h>

#include <random>

#include "mpimerge/error.hpp"
#include "mpimerge/methods/registry.hpp"
#include "support/method_driver.hpp"
#include "support/serial_mergekit_methods.hpp"

namespace mpimerge {
namespace {

using testing::DriverInput;
using testing::DriverOutput;

const std::vector<std::size_t> kBlockSizes{1, 7, 64, 4096};

// A vector, a matrix, a 3-D tensor, one element, a 0-d tensor, an empty one, and a float64 matrix.
// Dyadic values (deltas of 1/8 from few steps: equal variances and importances, exact sums) or
// smooth ones (normal, deltas a third of the values).
DriverInput make_input(std::size_t models, std::uint64_t seed, bool dyadic, bool base = true) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> step(-3, 3);
  std::normal_distribution<double> normal(0.0, 1.0);
  DriverInput in;
  in.shape.models = models;
  in.shape.has_base = base;
  in.shape.method_memory = 1 << 20;
  auto fill = [&](auto& t, std::size_t n) {
    using T = typename std::decay_t<decltype(t)>::value_type;
    t.base.resize(n);
    for (auto& x : t.base) x = dyadic ? static_cast<T>(step(rng) * 0.5) : static_cast<T>(normal(rng));
    t.models.assign(models, t.base);
    for (auto& m : t.models)
      for (auto& x : m) x += dyadic ? static_cast<T>(step(rng) * 0.125) : static_cast<T>(0.3 * normal(rng));
    if (!base) t.base.clear();
  };
  const std::vector<std::vector<std::uint64_t>> shapes{{300}, {12, 9}, {4, 3, 5}, {1}, {}, {0, 3}};
  for (const auto& shape : shapes) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    fill(in.f32.emplace_back(), n);
    in.shape.tensors.push_back({"model.layers." + std::to_string(in.f32.size()) + ".w", shape, n, ComputeType::f32});
  }
  fill(in.f64.emplace_back(), 42);
  in.shape.tensors.push_back({"lm_head.weight", {7, 6}, 42, ComputeType::f64});
  return in;
}

DriverOutput run(const MethodOptions& options, const DriverInput& in, std::size_t block) {
  return testing::run_serially(*make_method(options, in.shape.models), in, block);
}

// Calls f(tensor index in shape, the DriverTensor, its output) for every tensor.
template <class F>
void each_tensor(const DriverInput& in, const DriverOutput& out, F&& f) {
  std::size_t i32 = 0, i64 = 0;
  for (std::size_t t = 0; t < in.shape.tensors.size(); ++t) {
    if (in.shape.tensors[t].compute == ComputeType::f64) f(t, in.f64[i64], out.f64[i64]), ++i64;
    else f(t, in.f32[i32], out.f32[i32]), ++i32;
  }
}

// Every block size gives the bytes of whole tensors; returns them.
DriverOutput same_for_every_block_size(const MethodOptions& options, const DriverInput& in) {
  const DriverOutput whole = run(options, in, 1 << 20);
  for (std::size_t block : kBlockSizes) {
    const DriverOutput out = run(options, in, block);
    EXPECT_EQ(out.f32, whole.f32) << options.method << " block " << block;
    EXPECT_EQ(out.f64, whole.f64) << options.method << " block " << block;
  }
  return whole;
}

template <class T>
void expect_near(const std::vector<T>& got, const std::vector<double>& want, double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tolerance * (1 + std::fabs(want[i]))) << what << " element " << i;
}

template <class T>
std::vector<double> widened(const std::vector<T>& x) {
  return std::vector<double>(x.begin(), x.end());
}

// Model m's vector: its task vector when there is a base.
template <class Tensor>
std::vector<double> vector_of(const Tensor& t, std::size_t m) {
  std::vector<double> v = widened(t.models[m]);
  if (!t.base.empty())
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(t.models[m][i] - t.base[i]);
  return v;
}

TEST(NearSwap, BitIdenticalToTheFormula) {
  const DriverInput in = make_input(1, 1, false);
  for (double t : {0.0001, 0.3, 2.0}) {
    MethodOptions options;
    options.method = "nearswap";
    options.set("t", t);
    const DriverOutput out = same_for_every_block_size(options, in);
    each_tensor(in, out, [&](std::size_t, const auto& tensor, const auto& got) {
      EXPECT_EQ(got, testing::oracle_nearswap(t, tensor.base, tensor.models[0])) << t;
    });
  }
}

TEST(NuSlerp, EverySpanWithAndWithoutBaseMatchesTheFormula) {
  for (bool base : {true, false}) {
    const DriverInput in = make_input(2, 2, false, base);
    for (auto [flatten, row_wise] : {std::pair{true, false}, std::pair{false, false}, std::pair{false, true}}) {
      MethodOptions options;
      options.method = "nuslerp";
      options.set_model(0, "weight", 0.3).set_model(1, "weight", 0.9);
      options.set_flag("nuslerp_flatten", flatten).set_flag("nuslerp_row_wise", row_wise);
      const DriverOutput out = same_for_every_block_size(options, in);
      each_tensor(in, out, [&](std::size_t t, const auto& tensor, const auto& got) {
        std::vector<double> want =
            testing::oracle_nuslerp(0.75, vector_of(tensor, 0), vector_of(tensor, 1), in.shape.tensors[t].shape, flatten, row_wise);
        if (base)
          for (std::size_t i = 0; i < want.size(); ++i) want[i] += tensor.base[i];
        expect_near(got, want, 2e-6, "nuslerp " + in.shape.tensors[t].name);
      });
    }
  }
  // Weights that cancel interpolate half way, as mergekit's "fairly arbitrary" rule.
  const DriverInput in = make_input(2, 3, false);
  MethodOptions cancel, half;
  cancel.method = half.method = "nuslerp";
  cancel.set_model(0, "weight", 1.0).set_model(1, "weight", -1.0);
  EXPECT_EQ(run(cancel, in, 64).f32, run(half, in, 64).f32);
}

TEST(NuSlerp, TwoEqualVectorsAreColinearAndLerped) {
  DriverInput in = make_input(2, 4, false, false);
  for (auto& t : in.f32) t.models[1] = t.models[0];
  MethodOptions options;
  options.method = "nuslerp";
  options.set_model(0, "weight", 1.0).set_model(1, "weight", 3.0);
  auto method = make_method(options, 2);
  const DriverOutput out = testing::run_serially(*method, in, 64);
  for (std::size_t t = 0; t < in.f32.size(); ++t)
    for (std::size_t i = 0; i < out.f32[t].size(); ++i)
      EXPECT_EQ(out.f32[t][i], 0.25f * in.f32[t].models[0][i] + 0.75f * in.f32[t].models[1][i]);
  EXPECT_EQ(method->findings().at(0).value, in.shape.tensors.size() - 2);  // not the empty one, nor the f64
}

TEST(MultiSlerp, MatchesTheFormulaWithItsTangentStep) {
  for (bool base : {true, false})
    for (bool normalize : {true, false}) {
      const DriverInput in = make_input(3, 5, false, base);
      MethodOptions options;
      options.method = "multislerp";
      const std::vector<double> w{1.0, 0.7, 0.5};
      for (std::size_t m = 0; m < 3; ++m) options.set_model(m, "weight", w[m]);
      options.set_flag("normalize_weights", normalize);
      const DriverOutput out = same_for_every_block_size(options, in);
      each_tensor(in, out, [&](std::size_t t, const auto& tensor, const auto& got) {
        if (got.empty()) return;
        std::vector<double> want =
            testing::oracle_multislerp(w, {vector_of(tensor, 0), vector_of(tensor, 1), vector_of(tensor, 2)}, normalize, 1e-8);
        if (base)
          for (std::size_t i = 0; i < want.size(); ++i) want[i] += tensor.base[i];
        expect_near(got, want, 2e-6, "multislerp " + in.shape.tensors[t].name);
      });
    }
}

TEST(MultiSlerp, CancellingVectorsFallBackForTwoModelsAndAreRefusedForMore) {
  DriverInput in = make_input(2, 6, true);
  for (auto& t : in.f32)
    for (std::size_t i = 0; i < t.base.size(); ++i) t.models[1][i] = t.base[i] - (t.models[0][i] - t.base[i]);
  for (auto& t : in.f64)
    for (std::size_t i = 0; i < t.base.size(); ++i) t.models[1][i] = t.base[i] - (t.models[0][i] - t.base[i]);
  MethodOptions options;
  options.method = "multislerp";
  const DriverOutput out = run(options, in, 64);
  for (std::size_t t = 0; t < in.f32.size(); ++t) EXPECT_EQ(out.f32[t], in.f32[t].base);

  in.shape.models = 3;
  for (auto& t : in.f32) t.models.push_back(t.base);  // a third model, equal to the base
  for (auto& t : in.f64) t.models.push_back(t.base);
  options.set_model(2, "weight", 1.0);
  try {
    run(options, in, 64);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("multislerp: the weighted unit vectors of tensor 'model.layers.1.w' cancel"),
              std::string::npos)
        << e.what();
  }
  // Every task vector zero: the base, whatever the number of models (mergekit raises for three).
  for (auto& t : in.f32) t.models.assign(3, t.base);
  for (auto& t : in.f64) t.models.assign(3, t.base);
  const DriverOutput zero = run(options, in, 64);
  for (std::size_t t = 0; t < in.f32.size(); ++t) EXPECT_EQ(zero.f32[t], in.f32[t].base);
}

TEST(Karcher, MatchesTheIterationOnWholeVectors) {
  for (bool base : {true, false})
    for (std::uint64_t max_iter : {0, 1, 10}) {
      const DriverInput in = make_input(3, 7, false, base);
      MethodOptions options;
      options.method = "karcher";
      options.set("max_iter", static_cast<double>(max_iter));
      const DriverOutput out = same_for_every_block_size(options, in);
      each_tensor(in, out, [&](std::size_t t, const auto& tensor, const auto& got) {
        std::vector<std::vector<double>> points{widened(tensor.models[0]), widened(tensor.models[1]), widened(tensor.models[2])};
        if (base) points.push_back(widened(tensor.base));
        expect_near(got, testing::oracle_karcher(points, max_iter, 1e-5), 2e-6,
                    "karcher " + in.shape.tensors[t].name + " max_iter " + std::to_string(max_iter));
      });
    }
}

TEST(Karcher, ZeroInputsCountInTheScaleOnly) {
  DriverInput in = make_input(2, 8, false, false);
  for (auto& t : in.f32) std::fill(t.models[1].begin(), t.models[1].end(), 0.0f);
  MethodOptions options;
  options.method = "karcher";
  const DriverOutput out = run(options, in, 64);
  // One valid input: its direction, times the mean norm |x| / 2.
  for (std::size_t t = 0; t < in.f32.size(); ++t)
    for (std::size_t i = 0; i < out.f32[t].size(); ++i) EXPECT_NEAR(out.f32[t][i], in.f32[t].models[0][i] / 2, 1e-6);
}

TEST(Sce, BitIdenticalToTheFormulaWithTiesAtTheCut) {
  const DriverInput in = make_input(3, 9, true);
  for (double topk : {1.0, 0.3, 0.05, 0.0}) {
    MethodOptions options;
    options.method = "sce";
    options.set("select_topk", topk);
    const DriverOutput out = same_for_every_block_size(options, in);
    each_tensor(in, out, [&](std::size_t t, const auto& tensor, const auto& got) {
      EXPECT_EQ(got, testing::oracle_sce(tensor.base, tensor.models, topk)) << in.shape.tensors[t].name << " " << topk;
    });
  }
}

TEST(Sce, SmallTaskVectorsWeighTheModelsAlike) {
  DriverInput in = make_input(2, 10, true);
  for (auto& t : in.f32)  // mean squares below 1e-6: weights 1/2 each
    for (std::size_t m = 0; m < 2; ++m)
      for (std::size_t i = 0; i < t.base.size(); ++i) t.models[m][i] = t.base[i] + (i % 3 == m ? 0x1p-12f : 0.0f);
  MethodOptions options;
  options.method = "sce";
  const DriverOutput out = run(options, in, 64);
  for (std::size_t t = 0; t < in.f32.size(); ++t)
    EXPECT_EQ(out.f32[t], testing::oracle_sce(in.f32[t].base, in.f32[t].models, 1.0));
  EXPECT_EQ(out.f32[0][0], in.f32[0].base[0] + 0x1p-12f);  // model 0 alone agrees: its own value
}

TEST(ArceeFusion, BitIdenticalToTheFormula) {
  for (bool dyadic : {true, false}) {
    const DriverInput in = make_input(1, 11, dyadic);
    MethodOptions options;
    options.method = "arcee_fusion";
    const DriverOutput out = same_for_every_block_size(options, in);
    std::uint64_t fused = 0, total = 0;
    each_tensor(in, out, [&](std::size_t t, const auto& tensor, const auto& got) {
      if (got.empty()) return;
      const auto& shape = in.shape.tensors[t].shape;
      const std::size_t length = shape.size() <= 1 ? got.size() : static_cast<std::size_t>(shape.back());
      EXPECT_EQ(got, testing::oracle_arcee_fusion(tensor.base, tensor.models[0], length)) << in.shape.tensors[t].name;
      for (std::size_t i = 0; i < got.size(); ++i) fused += got[i] != tensor.base[i], ++total;
    });
    if (!dyadic) {
      EXPECT_GT(fused, 0u);  // a whole dyadic 1-D tensor has no outliers
    }
    EXPECT_LT(fused, total / 4);
  }
}

TEST(MergekitMethodErrors, AreOneClearLine) {
  const DriverInput in = make_input(3, 12, false);
  auto error_of = [&](const MethodOptions& o) -> std::string {
    try {
      run(o, in, 64);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  MethodOptions o;
  o.method = "multislerp";
  o.set_model(0, "weight", 1.0).set_model(1, "weight", -2.0).set_model(2, "weight", 1.0);
  EXPECT_NE(error_of(o).find("multislerp: the weights of tensor 'model.layers.1.w' sum to 0"), std::string::npos) << error_of(o);
  o = {};
  o.method = "multislerp";
  o.set("eps", 0.0);
  EXPECT_NE(error_of(o).find("multislerp: parameter 'eps' (global) must be a finite number > 0, not '0'"), std::string::npos)
      << error_of(o);
  o = {};
  o.method = "sce";
  o.set("select_topk", 1.5);
  EXPECT_NE(error_of(o).find("sce: parameter 'select_topk' (global) must be a number in [0, 1], not '1.5'"), std::string::npos)
      << error_of(o);
  o = {};
  o.method = "karcher";
  o.set("max_iter", 2.5);
  EXPECT_NE(error_of(o).find("karcher: parameter 'max_iter' (global) must be a non-negative integer, not '2.5'"),
            std::string::npos)
      << error_of(o);
  o = {};
  o.method = "sce";
  o.set_flag("int8_mask", true);  // mergekit's, accepted from job files only
  EXPECT_NE(error_of(o).find("has no effect here"), std::string::npos) << error_of(o);
  o.mergekit_rules = true;
  EXPECT_EQ(error_of(o), "");
  o = {};
  o.method = "nearswap";
  EXPECT_NE(error_of(o).find("nearswap: parameter 't' is required"), std::string::npos) << error_of(o);
}

}  // namespace
}  // namespace mpimerge
