// The memory a process may use (util/memory.hpp): the node's, its own cgroup's and its ancestors'
// (v1 and v2, found through /proc/self/cgroup and mountinfo), Slurm's grant; the smallest, and
// what says so. Fed from strings, as the files would read.
#include "mpimerge/util/memory.hpp"

#include <gtest/gtest.h>

#include <map>

namespace mpimerge {
namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

MemorySources sources(std::map<std::string, std::string> files, std::map<std::string, std::string> env = {}) {
  MemorySources s;
  s.read_file = [files](const std::string& path) -> std::optional<std::string> {
    const auto it = files.find(path);
    return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  s.getenv = [env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  s.physical_bytes = 24 * kGiB;
  return s;
}

const std::string kMountinfoV2 = "25 1 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
const std::string kMountinfoV1 =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(UsableMemory, TheNodesWithoutLimits) {
  const MemoryLimit m = usable_memory(sources({{"/proc/self/cgroup", "0::/user.slice\n"}, {"/proc/self/mountinfo", kMountinfoV2},
                                               {"/sys/fs/cgroup/user.slice/memory.max", "max\n"}}));
  EXPECT_EQ(m.bytes, 24 * kGiB);
  EXPECT_EQ(m.source, "the node's physical memory");
}

// A Slurm job's step cgroup under its job's: the process's own cgroup, not the root's, and the
// smallest limit on the way up (here the job's, above the step's unlimited one).
TEST(UsableMemory, CgroupV2TheSmallestOnTheWayToTheRoot) {
  const std::string job = "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12";
  const MemoryLimit m = usable_memory(sources({{"/proc/self/cgroup", "0::/system.slice/slurmstepd.scope/job_12/step_0/user/task_0\n"},
                                               {"/proc/self/mountinfo", kMountinfoV2},
                                               {job + "/step_0/user/task_0/memory.max", "max\n"},
                                               {job + "/step_0/memory.max", "max\n"},
                                               {job + "/memory.max", "1610612736\n"},
                                               {job + "/memory.high", "max\n"},
                                               {"/sys/fs/cgroup/system.slice/memory.max", "4294967296\n"}}));
  EXPECT_EQ(m.bytes, 1610612736u);
  EXPECT_EQ(m.source, "cgroup v2 memory.max of " + job);
}

TEST(UsableMemory, CgroupV2HighCountsToo) {
  const MemoryLimit m = usable_memory(sources({{"/proc/self/cgroup", "0::/a\n"}, {"/proc/self/mountinfo", kMountinfoV2},
                                               {"/sys/fs/cgroup/a/memory.max", "2147483648\n"},
                                               {"/sys/fs/cgroup/a/memory.high", "1073741824\n"}}));
  EXPECT_EQ(m.bytes, kGiB);
  EXPECT_EQ(m.source, "cgroup v2 memory.high of /sys/fs/cgroup/a");
}

// v1: the memory hierarchy's line of /proc/self/cgroup, mounted beside others; its "no limit"
// (a page-rounded 2^63) is no limit.
TEST(UsableMemory, CgroupV1MemoryHierarchy) {
  const std::string dir = "/sys/fs/cgroup/memory/process_api/abc";
  const MemoryLimit m = usable_memory(sources({{"/proc/self/cgroup", "5:devices:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n"},
                                               {"/proc/self/mountinfo", kMountinfoV1},
                                               {dir + "/memory.limit_in_bytes", "1572864000\n"},
                                               {"/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes", "9223372036854771712\n"},
                                               {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"}}));
  EXPECT_EQ(m.bytes, 1572864000u);
  EXPECT_EQ(m.source, "cgroup v1 memory.limit_in_bytes of " + dir);
}

// A container that mounts only its own sub-tree: the mount's root is stripped from the path.
TEST(UsableMemory, MountOfASubTree) {
  const MemoryLimit m = usable_memory(
      sources({{"/proc/self/cgroup", "0::/docker/abc\n"},
               {"/proc/self/mountinfo", "25 1 0:22 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"},
               {"/sys/fs/cgroup/memory.max", "536870912\n"}}));
  EXPECT_EQ(m.bytes, 512u << 20);
  EXPECT_EQ(m.source, "cgroup v2 memory.max of /sys/fs/cgroup");
}

TEST(UsableMemory, SlurmsGrant) {
  const auto files = std::map<std::string, std::string>{};
  EXPECT_EQ(usable_memory(sources(files, {{"SLURM_MEM_PER_NODE", "1536"}})).bytes, 1536u << 20);
  EXPECT_EQ(usable_memory(sources(files, {{"SLURM_MEM_PER_NODE", "1536"}})).source, "Slurm's SLURM_MEM_PER_NODE=1536 (MiB)");
  const MemoryLimit per_cpu = usable_memory(sources(files, {{"SLURM_MEM_PER_CPU", "1000"}, {"SLURM_CPUS_ON_NODE", "4"}}));
  EXPECT_EQ(per_cpu.bytes, std::uint64_t{4000} << 20);
  EXPECT_EQ(per_cpu.source, "Slurm's SLURM_MEM_PER_CPU=1000 (MiB) x SLURM_CPUS_ON_NODE=4");
  EXPECT_EQ(usable_memory(sources(files, {{"SLURM_MEM_PER_GPU", "2048"}, {"SLURM_GPUS_ON_NODE", "2"}})).bytes, 4 * kGiB);
  // --mem=0 (all of the node) and values that are not numbers limit nothing.
  EXPECT_EQ(usable_memory(sources(files, {{"SLURM_MEM_PER_NODE", "0"}})).bytes, 24 * kGiB);
  EXPECT_EQ(usable_memory(sources(files, {{"SLURM_MEM_PER_NODE", "lots"}})).bytes, 24 * kGiB);
  // The smaller of Slurm's grant and the cgroup's limit holds.
  const MemoryLimit both = usable_memory(sources({{"/proc/self/cgroup", "0::/a\n"}, {"/proc/self/mountinfo", kMountinfoV2},
                                                  {"/sys/fs/cgroup/a/memory.max", "1073741824\n"}},
                                                 {{"SLURM_MEM_PER_NODE", "2048"}}));
  EXPECT_EQ(both.bytes, kGiB);
}

}  // namespace
}  // namespace mpimerge
