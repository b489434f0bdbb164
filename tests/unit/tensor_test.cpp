// Row ownership and the transfer split that keeps collective calls in step.
#include <gtest/gtest.h>

#include "mpimerge/pipeline/transfers.hpp"
#include "mpimerge/tensor.hpp"

namespace mpimerge {
namespace {

TEST(OwnedRows, CoverEveryRowOnceInRankOrder) {
  for (std::uint64_t rows : {0, 1, 2, 3, 7, 100, 101}) {
    for (int ranks = 1; ranks <= 9; ++ranks) {
      std::uint64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const RowRange range = owned_rows(rows, r, ranks);
        ASSERT_EQ(range.begin, next);
        ASSERT_LE(range.count(), owned_rows(rows, 0, ranks).count());  // rank 0 owns the most
        ASSERT_GE(range.count() + 1, owned_rows(rows, 0, ranks).count());  // balanced within one row
        next = range.end;
      }
      ASSERT_EQ(next, rows);
    }
  }
}

TEST(TensorInfo, RowsOfScalarsEmptiesAndMatrices) {
  EXPECT_EQ((TensorInfo{"s", DType::f32, {}}).rows(), 1u);
  EXPECT_EQ((TensorInfo{"s", DType::f32, {}}).elements(), 1u);
  EXPECT_EQ((TensorInfo{"e", DType::f32, {0, 4}}).elements(), 0u);
  const TensorInfo m{"m", DType::bf16, {13, 4, 2}};
  EXPECT_EQ(m.rows(), 13u);
  EXPECT_EQ(m.row_elements(), 8u);
  EXPECT_EQ(m.bytes(), 13u * 8 * 2);
  EXPECT_EQ(shape_string(m.shape), "[13, 4, 2]");
}

TEST(Transfers, SameCallCountOnEveryRankAndEveryRowOnce) {
  for (int ranks : {1, 2, 3, 4, 7}) {
    const std::uint64_t rows = 23, row_bytes = 10, cap = 30;  // 3 rows per call
    std::uint64_t calls_rank0 = 0;
    for (int r = 0; r < ranks; ++r) {
      const RowRange mine = owned_rows(rows, r, ranks);
      std::uint64_t calls = 0, next = mine.begin;
      for_each_transfer(most_rows_per_rank(rows, ranks), mine, row_bytes, [&](RowRange part) {
        ++calls;
        EXPECT_LE(part.count() * row_bytes, cap);
        if (!part.empty()) {
          EXPECT_EQ(part.begin, next);
          next = part.end;
        }
      }, cap);
      EXPECT_EQ(next, mine.end);
      if (r == 0) calls_rank0 = calls;
      EXPECT_EQ(calls, calls_rank0) << "rank " << r << " of " << ranks;
    }
  }
}

TEST(Transfers, EmptyTensorsMakeNoCall) {
  int calls = 0;
  for_each_transfer(most_rows_per_rank(0, 3), RowRange{}, 16, [&](RowRange) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace mpimerge
