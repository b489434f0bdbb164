// The error for merged values that are not finite names the tensor and what overflowed: the
// method's arithmetic with its largest scale parameter, or the conversion to the output dtype.
#include "durability/nonfinite_output.hpp"

#include <gtest/gtest.h>

namespace mpimerge {
namespace {

PlannedTensor tensor(DType dtype) {
  PlannedTensor t;
  t.output = TensorInfo{"w", dtype, {4, 25}};
  return t;
}

MergeJob job() {
  MergeJob j;
  j.output = "out.h5";
  j.method.method = "task_arithmetic";
  return j;
}

TEST(NonFiniteOutput, NamesTheLambdaThatOverflowedTheArithmetic) {
  MergeJob j = job();
  j.method.set("lambda", 1e39);
  EXPECT_EQ(nonfinite_output_message(j, tensor(DType::bf16), 100, 100),
            "out.h5: tensor 'w': 100 of 100 merged values are not finite: the merge overflows float32 with --lambda 1e39; "
            "nothing is written (pass --allow-nonfinite to write them anyway)");
}

TEST(NonFiniteOutput, NamesTheLargestWeight) {
  MergeJob j = job();
  j.method.set_model(0, "weight", 1.0).set_model(1, "weight", 1e39).set_model(2, "weight", -3.0);
  EXPECT_NE(nonfinite_output_message(j, tensor(DType::f32), 7, 7).find("overflows float32 with weight of model 2 (--weight 1e39)"),
            std::string::npos);
  // A job file's weight of one model, as its parameter table holds it.
  MergeJob file = job();
  file.job_file = "job.yaml";
  file.method.set_model(1, "weight", 1e300);
  EXPECT_NE(nonfinite_output_message(file, tensor(DType::f32), 7, 7).find("with weight of model 2 (1e300)"), std::string::npos);
}

TEST(NonFiniteOutput, NamesTheOutputDtypeWhenOnlyTheConversionOverflowed) {
  MergeJob j = job();
  j.method.set("lambda", 1e9);
  j.out_dtype = DType::f16;
  EXPECT_EQ(nonfinite_output_message(j, tensor(DType::f16), 97, 0),
            "out.h5: tensor 'w': 97 of 100 merged values overflow float16, the output dtype (--out-dtype float16), with "
            "--lambda 1e9; nothing is written (pass --allow-nonfinite to write them anyway)");
  EXPECT_NE(nonfinite_output_message(job(), tensor(DType::f16), 1, 0).find("the output dtype (the base's; choose a wider one"),
            std::string::npos);
}

TEST(NonFiniteOutput, SaysWhenNoScaleParameterIsLarge) {
  EXPECT_NE(nonfinite_output_message(job(), tensor(DType::f32), 3, 3).find("no scale parameter is above 1"), std::string::npos);
}

}  // namespace
}  // namespace mpimerge
