// The merge plan: what is merged, what is copied, and every difference between the inputs listed.
#include "mpimerge/pipeline/plan.hpp"

#include <gtest/gtest.h>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

// Only metadata: plans never read data.
class MetadataOnly final : public storage::CheckpointReader {
 public:
  MetadataOnly(std::string path, std::vector<TensorInfo> tensors) : path_(std::move(path)), tensors_(std::move(tensors)) {}
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  void read_rows(std::size_t, RowRange, std::span<std::uint8_t>) override { FAIL() << "plans read no data"; }

 private:
  std::string path_;
  std::vector<TensorInfo> tensors_;
};

const std::vector<TensorInfo> kBase = {
    {"a.weight", DType::bf16, {4, 2}}, {"b.bias", DType::f32, {4}}, {"ids", DType::i64, {3}}};

TEST(Plan, MergesFloatsCopiesTheRestAndWidensForFloat64) {
  MetadataOnly base("base.h5", kBase), m1("m1.h5", kBase);
  auto wide = kBase;
  wide[1].dtype = DType::f64;
  MetadataOnly m2("m2.h5", wide);
  const MergePlan plan = plan_merge(InputSet{{&base, &m1, &m2}, true}, std::nullopt);
  ASSERT_EQ(plan.tensors.size(), 3u);
  EXPECT_EQ(plan.tensors[0].action, TensorAction::merge);
  EXPECT_EQ(plan.tensors[0].compute, ComputeType::f32);
  EXPECT_EQ(plan.tensors[1].compute, ComputeType::f64);
  EXPECT_EQ(plan.tensors[1].output.dtype, DType::f32);  // the base's dtype
  EXPECT_EQ(plan.tensors[2].action, TensorAction::copy_from_base);
  EXPECT_EQ(plan.shape.models, 2u);
  ASSERT_EQ(plan.shape.tensors.size(), 2u);
  EXPECT_EQ(plan.shape.total_elements(), 12u);
  EXPECT_TRUE(plan.shape.any_float64());
}

TEST(Plan, OutDtypeAppliesToMergedTensorsOnly) {
  MetadataOnly base("base.h5", kBase), m1("m1.h5", kBase);
  const MergePlan plan = plan_merge(InputSet{{&base, &m1}, true}, DType::f16);
  EXPECT_EQ(plan.tensors[0].output.dtype, DType::f16);
  EXPECT_EQ(plan.tensors[2].output.dtype, DType::i64);
}

// An architecture mismatch is one short line: the count, the first three, and where to see them all.
TEST(Plan, SummarisesTheDifferencesAndPointsToInspect) {
  auto other = kBase;
  other[0].shape = {2, 4};
  other[2].dtype = DType::i32;
  other.erase(other.begin() + 1);
  other.push_back({"extra", DType::f32, {1}});
  MetadataOnly base("base.h5", kBase), m1("m1.h5", kBase), m2("m2.h5", other);
  try {
    plan_merge(InputSet{{&base, &m1, &m2}, true}, std::nullopt);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string text = e.what();
    EXPECT_EQ(text,
              "the inputs cannot be merged: 4 problems, the first 3: model 2 (m2.h5) has tensor 'extra' that base "
              "(base.h5) lacks; tensor 'a.weight' has shape [2, 4] in model 2 (m2.h5) but [4, 2] in base (base.h5); "
              "model 2 (m2.h5) lacks tensor 'b.bias'; `mpimerge inspect base.h5 m1.h5 m2.h5` lists all 4");
  }
}

TEST(Plan, ListsThreeProblemsOrFewerWhole) {
  auto other = kBase;
  other[0].shape = {2, 4};
  MetadataOnly base("base.h5", kBase), m1("m1.h5", other);
  try {
    plan_merge(InputSet{{&base, &m1}, true}, std::nullopt);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "the inputs cannot be merged: 1 problem: tensor 'a.weight' has shape [2, 4] in "
                                     "model 1 (m1.h5) but [4, 2] in base (base.h5)");
  }
}

TEST(Plan, MergeProblemsListsEveryDifferenceWhole) {
  auto other = kBase;
  other[0].shape = {2, 4};
  other.push_back({"extra", DType::f32, {1}});
  MetadataOnly a("a", kBase), b("b", kBase), c("c", other);
  EXPECT_TRUE(merge_problems(InputSet{{&a, &b}, false}).empty());
  EXPECT_EQ(merge_problems(InputSet{{&a, &b, &c}, false}),
            (std::vector<std::string>{"model 3 (c) has tensor 'extra' that model 1 (a) lacks",
                                      "tensor 'a.weight' has shape [2, 4] in model 3 (c) but [4, 2] in model 1 (a)"}));
}

}  // namespace
}  // namespace mpimerge
