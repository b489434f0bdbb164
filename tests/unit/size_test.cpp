// Sizes as users write them, one way for every size option (as mergekit and Hugging Face).
#include "mpimerge/util/size.hpp"

#include <gtest/gtest.h>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

TEST(Size, PowersOfAThousandAsMergekitAndHuggingFace) {
  EXPECT_EQ(parse_size("5GB"), 5'000'000'000u);
  EXPECT_EQ(parse_size("5G"), 5'000'000'000u);
  EXPECT_EQ(parse_size("5B"), 5'000'000'000u);  // mergekit's --max-shard-size 5B: 5 billion
  EXPECT_EQ(parse_size("5b"), 5'000'000'000u);
  EXPECT_EQ(parse_size("1M"), 1'000'000u);
  EXPECT_EQ(parse_size("500mb"), 500'000'000u);
  EXPECT_EQ(parse_size("40K"), 40'000u);
  EXPECT_EQ(parse_size("2T"), 2'000'000'000'000u);
  EXPECT_EQ(parse_size("1.5G"), 1'500'000'000u);
  EXPECT_EQ(parse_size("1000"), 1000u);
}

TEST(Size, PowersOfTwoWithAnI) {
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_size("4kib"), 4096u);
  EXPECT_EQ(parse_size("1TiB"), 1ull << 40);
  EXPECT_EQ(parse_size("0.5KiB"), 512u);
}

TEST(Size, RefusesWhatIsNotASize) {
  for (const char* bad : {"", "GB", "0", "-5GB", "5 GB", "5XB", ".", "1.2.3G", "0.1", "nan", "inf", "1e3", "5GIG"})
    EXPECT_THROW(parse_size(bad), UsageError) << bad;
  for (const char* huge : {"99999999999999TB", "18446744073709551616", "1111111111111111111111111111111G"})
    EXPECT_THROW(parse_size(huge), UsageError) << huge;
}

}  // namespace
}  // namespace mpimerge
