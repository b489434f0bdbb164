// The defaults chosen from the file system (statfs f_type, injected here): how the output is
// written, and how much of the inputs a rank holds at once.
#include "mpimerge/storage/file_system.hpp"

#include <gtest/gtest.h>

#include "pipeline/working_set.hpp"

namespace mpimerge {
namespace {

using storage::FileSystemKind;

TEST(FileSystem, MagicNumbersNameTheFileSystemAndItsKind) {
  const struct {
    std::uint64_t f_type;
    const char* name;
    FileSystemKind kind;
  } cases[] = {
      {0xEF53, "ext4", FileSystemKind::local},         {0x58465342, "xfs", FileSystemKind::local},
      {0x9123683E, "btrfs", FileSystemKind::local},    {0x0BD00BD0, "lustre", FileSystemKind::parallel},
      {0x47504653, "gpfs", FileSystemKind::parallel},  {0x19830326, "beegfs", FileSystemKind::parallel},
      {0x00C36400, "cephfs", FileSystemKind::parallel}, {0x6969, "nfs", FileSystemKind::network},
      {0x01021994, "tmpfs", FileSystemKind::memory},   {0x65735546, "0x65735546", FileSystemKind::unknown},
  };
  for (const auto& c : cases) {
    const storage::FileSystem fs = storage::classify_file_system(c.f_type);
    EXPECT_EQ(fs.name, c.name);
    EXPECT_EQ(fs.kind, c.kind) << c.name;
  }
  // f_type is a signed long: a magic number with its top bit set may come sign-extended.
  EXPECT_EQ(storage::classify_file_system(0xFFFFFFFFFF534D42ull).name, "cifs");
}

TEST(FileSystem, OutputIsDirectOnLocalDisksAndMpiioElsewhere) {
  const storage::OutputIoChoice ext4 = storage::default_output_io(storage::classify_file_system(0xEF53));
  EXPECT_TRUE(ext4.direct);
  EXPECT_EQ(ext4.reason, "ext4 is a local file system: each rank writes its rows with O_DIRECT, past the page cache "
                         "(filling fresh page-cache pages costs more than the disk)");
  const storage::OutputIoChoice lustre = storage::default_output_io(storage::classify_file_system(0x0BD00BD0));
  EXPECT_FALSE(lustre.direct);
  EXPECT_EQ(lustre.reason, "lustre is a parallel file system: collective MPI-IO writes (its aggregators write whole stripes)");
  EXPECT_FALSE(storage::default_output_io(storage::classify_file_system(0x47504653)).direct);  // gpfs
  EXPECT_FALSE(storage::default_output_io(storage::classify_file_system(0x6969)).direct);      // nfs
  EXPECT_FALSE(storage::default_output_io(storage::classify_file_system(0x01021994)).direct);  // tmpfs
  const storage::OutputIoChoice fuse = storage::default_output_io(storage::classify_file_system(0x65735546));
  EXPECT_FALSE(fuse.direct);
  EXPECT_EQ(fuse.reason, "file system 0x65735546 is not one mpimerge knows: collective MPI-IO writes");
}

TEST(FileSystem, OfAPathNotYetWrittenIsItsDirectorys) {
  EXPECT_EQ(storage::file_system_of("/proc/no/such/file").name, "0x00009fa0");  // procfs: unknown
}

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

TEST(WorkingSet, LocalDisksStreamInThroughputSizedGroupsUnderTheCap) {
  const storage::FileSystem ext4 = storage::classify_file_system(0xEF53);
  EXPECT_EQ(choose_working_set(7000 * kMiB, true, ext4).group_bytes, kThroughputGroupBytes);
  EXPECT_EQ(choose_working_set(7000 * kMiB, false, ext4).group_bytes, kThroughputGroupBytes);
  EXPECT_EQ(choose_working_set(5 * kMiB, true, ext4).group_bytes, 5 * kMiB);  // the budget caps it
  EXPECT_EQ(choose_working_set(5 * kMiB, true, ext4).reason,
            "groups of at most 5.24 MB per rank: what the memory budget leaves for slices");
  EXPECT_NE(choose_working_set(7000 * kMiB, true, ext4).reason.find("again from the page cache of ext4"), std::string::npos);
}

TEST(WorkingSet, ParallelFileSystemsHoldWhatTheBudgetAllowsWhenAPassRereads) {
  const storage::FileSystem lustre = storage::classify_file_system(0x0BD00BD0);
  EXPECT_EQ(choose_working_set(7000 * kMiB, true, lustre).group_bytes, 7000 * kMiB);
  EXPECT_EQ(choose_working_set(7000 * kMiB, true, lustre).reason,
            "as much as the memory budget holds: the inputs are on lustre, a parallel file system, where each further "
            "pass over them would read them again from it");
  // One pass reads the inputs once however they are grouped: throughput-sized groups.
  EXPECT_EQ(choose_working_set(7000 * kMiB, false, lustre).group_bytes, kThroughputGroupBytes);
  EXPECT_EQ(choose_working_set(7000 * kMiB, true, storage::classify_file_system(0x6969)).group_bytes, 7000 * kMiB);
}

}  // namespace
}  // namespace mpimerge
