// Progress output in each style.
#include "mpimerge/presentation/progress.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include <sstream>

#include "mpimerge/error.hpp"

namespace mpimerge {
namespace {

TEST(Progress, LinesForLogsNamePhaseItemsBytesRate) {
  std::ostringstream out;
  Progress p(Progress::Style::lines, out, std::chrono::seconds(0));
  p.start("merge", 4'000'000'000, 4);
  p.advance(1'000'000'000, 1);
  p.finish();
  const std::string text = out.str();
  EXPECT_NE(text.find("progress merge  25%: 1 of 4 done, 1.00 GB of 4.00 GB at "), std::string::npos) << text;
  EXPECT_NE(text.find(" left\n"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(Progress, BarRedrawsInPlaceAndNoneIsSilent) {
  std::ostringstream bar, none;
  Progress b(Progress::Style::bar, bar);
  b.start("read", 100, 2);
  b.advance(50, 1);  // the first redraw may wait 200 ms; finish clears whatever was drawn
  b.finish();
  EXPECT_EQ(bar.str().find('\n'), std::string::npos);
  Progress n(Progress::Style::none, none, std::chrono::seconds(0));
  n.start("read", 100, 2);
  n.advance(100, 2);
  n.finish();
  EXPECT_TRUE(none.str().empty());
}

TEST(Progress, Styles) {
  EXPECT_EQ(Progress::style_for(false, false, "bar"), Progress::Style::none);  // not rank 0
  EXPECT_EQ(Progress::style_for(true, true, "bar"), Progress::Style::none);    // --quiet
  EXPECT_EQ(Progress::style_for(true, false, "lines"), Progress::Style::lines);
  EXPECT_THROW(Progress::style_for(true, false, "fancy"), UsageError);
  // Under mpirun ranks get a pseudo-terminal even when mpirun's output goes to a log: auto means
  // lines there, and a bar only when asked for.
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  EXPECT_EQ(Progress::style_for(true, false, "auto"), Progress::Style::lines);
  EXPECT_EQ(Progress::style_for(true, false, "bar"), Progress::Style::bar);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
}

}  // namespace
}  // namespace mpimerge
