#include "cgroups/layout.h"

#include <gtest/gtest.h>

#include "tests/unit/cgroups/temp_tree.h"

namespace uvm::cgroups {
namespace {

using testing::ReadFixture;
using testing::TempTree;

TEST(LayoutFromMountInfo, ThisMachineIsHybridWithSeparateCpuAndCpuacct) {
  auto l = LayoutFromMountInfo(ReadFixture("mountinfo/hybrid-separate.txt"), "/sys/fs/cgroup");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kHybrid);
  EXPECT_EQ(l->memory_v1, "/sys/fs/cgroup/memory");
  EXPECT_EQ(l->cpu_v1, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(l->cpuacct_v1, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(l->unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(l->memory_version(), 1);
}

TEST(LayoutFromMountInfo, CoMountedCpuCpuacctShareOneDirectory) {
  auto l = LayoutFromMountInfo(ReadFixture("mountinfo/v1-comounted.txt"), "/sys/fs/cgroup");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kV1);
  EXPECT_EQ(l->cpu_v1, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l->cpuacct_v1, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l->unified, "");
}

TEST(LayoutFromMountInfo, SystemdHybrid) {
  auto l = LayoutFromMountInfo(ReadFixture("mountinfo/hybrid-systemd.txt"), "/sys/fs/cgroup/");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kHybrid);
  EXPECT_EQ(l->cpu_v1, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l->unified, "/sys/fs/cgroup/unified");
}

TEST(LayoutFromMountInfo, PureV2) {
  auto l = LayoutFromMountInfo(ReadFixture("mountinfo/v2.txt"), "/sys/fs/cgroup");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kV2);
  EXPECT_EQ(l->unified, "/sys/fs/cgroup");
  EXPECT_EQ(l->memory_version(), 2);
}

TEST(LayoutFromMountInfo, OnlyMountsBeneathTheRootCount) {
  // The bind mount at "/host cgroup" comes first in the file but is not beneath the root.
  auto l = LayoutFromMountInfo(ReadFixture("mountinfo/v2-escaped.txt"), "/sys/fs/cgroup");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->unified, "/sys/fs/cgroup");
  // "/sys/fs/cgroupX" is not beneath "/sys/fs/cgroup".
  auto none = LayoutFromMountInfo("1 2 0:1 / /sys/fs/cgroupX rw - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no cgroup or cgroup2 mount"), std::string::npos);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

TEST(ProbeLayout, V2Tree) {
  auto l = ProbeLayout(testing::FixturePath("v2-systemd"));
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kV2);
  EXPECT_EQ(l->unified, testing::FixturePath("v2-systemd"));
}

TEST(ProbeLayout, V1TreeWithCoMountAndConvenienceSymlinks) {
  auto l = ProbeLayout(testing::FixturePath("v1-cgroupfs"));
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kV1);
  EXPECT_EQ(l->memory_v1, testing::FixturePath("v1-cgroupfs/memory"));
  EXPECT_EQ(l->cpu_v1, testing::FixturePath("v1-cgroupfs/cpu,cpuacct")) << "the symlink cpu is not used";
  EXPECT_EQ(l->cpuacct_v1, testing::FixturePath("v1-cgroupfs/cpu,cpuacct"));
}

TEST(ProbeLayout, HybridWhenUnifiedIsPresent) {
  TempTree t("v1-cgroupfs");
  t.Write("unified/cgroup.procs", "1\n");
  auto l = ProbeLayout(t.root());
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kHybrid);
  EXPECT_EQ(l->unified, t.Path("unified"));
}

TEST(ProbeLayout, NotACgroupTree) {
  TempTree t;
  t.Write("etc/passwd", "root:x:0:0\n");
  EXPECT_FALSE(ProbeLayout(t.root()));
  EXPECT_FALSE(ProbeLayout(t.Path("missing")));
}

TEST(DetectLayout, FallsBackToProbingATreeThatIsNoMount) {
  auto l = DetectLayout(testing::FixturePath("v2-cgroupfs"));
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, LayoutKind::kV2);
}

}  // namespace
}  // namespace uvm::cgroups
