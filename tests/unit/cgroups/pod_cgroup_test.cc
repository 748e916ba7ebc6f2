#include "cgroups/pod_cgroup.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/unit/cgroups/temp_tree.h"

namespace uvm::cgroups {
namespace {

using testing::TempTree;

constexpr char kUid[] = "1c9e5a7e-3f1b-4a3e-9a57-2a8c0d3e4f51";
constexpr char kSliceParent[] = "kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice";
constexpr char kSid[] = "4f2b8e3c1d9a7b6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
const std::string kCgroupfsParent = std::string("/kubepods/burstable/pod") + kUid;
const std::string kCgroupfsPod = std::string("kubepods/burstable/pod") + kUid;

TEST(PodCgroups, RefusesAnotherPodsPathBeforeLookingAtTheTree) {
  PodCgroups cgroups({.cgroup_root = "/nonexistent-uvm-cgroup-root"});
  auto pod = cgroups.OpenPod("/kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e", kUid);
  ASSERT_FALSE(pod);
  EXPECT_EQ(pod.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(pod.error().message.find("names another pod"), std::string::npos) << pod.error().message;
  EXPECT_EQ(pod.error().message.find("nonexistent-uvm-cgroup-root"), std::string::npos)
      << "the tree was read";
}

TEST(PodCgroups, MissingPodIsNotFound) {
  TempTree t("v2-cgroupfs");
  PodCgroups cgroups({.cgroup_root = t.root()});
  auto pod = cgroups.OpenPod("/kubepods/burstable/pod00000000-0000-0000-0000-000000000000", "");
  ASSERT_FALSE(pod);
  EXPECT_EQ(pod.error().code, ErrorCode::kNotFound) << pod.error().message;
}

TEST(PodCgroups, ReadsAndRaisesACgroupfsPodThroughItsFiles) {
  TempTree t("v2-cgroupfs");
  PodCgroups cgroups({.cgroup_root = t.root()});
  auto pod = cgroups.OpenPod(kCgroupfsParent, kUid, kSid);
  ASSERT_TRUE(pod) << pod.error().message;
  EXPECT_EQ(pod->driver(), CgroupDriver::kCgroupfs);
  EXPECT_EQ(pod->path(), "/" + kCgroupfsPod);
  auto s = pod->ReadSample();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->memory_limit_bytes, std::optional<uint64_t>(704643072));
  EXPECT_EQ(CriCpuQuota(*s), std::optional<int64_t>(175000));
  auto sandbox = cgroups.ReadSandboxSample(*pod);
  ASSERT_TRUE(sandbox) << sandbox.error().message;

  auto r = cgroups.RaiseMemoryLimit(*pod, 805306368);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  EXPECT_EQ(t.Read(kCgroupfsPod + "/memory.max"), "805306368");
  auto cpu = cgroups.RaiseCpuQuota(*pod, {.quota_us = 250000, .period_us = 100000});
  ASSERT_TRUE(cpu) << cpu.error().message;
  EXPECT_TRUE(cpu->written());
  EXPECT_EQ(t.Read(kCgroupfsPod + "/cpu.max"), "250000 100000");
}

TEST(PodCgroups, ASystemdPodIsWrittenThroughSystemdNeverItsFiles) {
  TempTree t("v2-systemd");
  PodCgroups cgroups({.cgroup_root = t.root(), .systemd_bus = "unix:path=/nonexistent/uvm-sizer-test/bus"});
  auto pod = cgroups.OpenPod(kSliceParent, kUid);
  ASSERT_TRUE(pod) << pod.error().message;
  ASSERT_EQ(pod->driver(), CgroupDriver::kSystemd);
  std::string max_file = pod->paths().pod + "/memory.max";
  std::string before = t.Read(max_file);
  auto r = cgroups.RaiseMemoryLimit(*pod, 8ULL << 30);
  ASSERT_FALSE(r) << "wrote without systemd";
  EXPECT_NE(r.error().message.find(pod->paths().systemd_unit), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << r.error().message;  // no bus socket
  EXPECT_EQ(t.Read(max_file), before);
}

TEST(CriCpuQuota, UnlimitedWithACpuControllerIsMinusOneAndWithoutOneAbsent) {
  CgroupSample s;
  EXPECT_EQ(CriCpuQuota(s), std::nullopt);
  s.cpu_period_us = 100000;
  EXPECT_EQ(CriCpuQuota(s), std::optional<int64_t>(-1));
  s.cpu_quota_us = 50000;
  EXPECT_EQ(CriCpuQuota(s), std::optional<int64_t>(50000));
}

TEST(BoundKataOverhead, SetOnceWhenUnlimitedThenOnlyRaised) {
  TempTree t("v2-cgroupfs");
  const std::string file = std::string("kata_overhead/") + kSid + "/memory.max";
  ASSERT_EQ(t.Read(file), "max\n");
  PodCgroups cgroups({.cgroup_root = t.root()});
  const uint64_t page = static_cast<uint64_t>(getpagesize());

  auto first = cgroups.BoundKataOverhead(kSid, 300 << 20);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->written);
  EXPECT_EQ(first->path, std::string("/kata_overhead/") + kSid);
  EXPECT_EQ(first->before_bytes, std::nullopt);
  EXPECT_EQ(first->after_bytes, std::optional<uint64_t>(300 << 20));
  EXPECT_EQ(t.Read(file), std::to_string(300 << 20));

  auto lower = cgroups.BoundKataOverhead(kSid, 200 << 20);
  ASSERT_TRUE(lower) << lower.error().message;
  EXPECT_FALSE(lower->written) << "a bound is never lowered";
  EXPECT_EQ(t.Read(file), std::to_string(300 << 20));

  auto higher = cgroups.BoundKataOverhead(kSid, (400 << 20) + 1);
  ASSERT_TRUE(higher) << higher.error().message;
  EXPECT_TRUE(higher->written);
  EXPECT_EQ(higher->before_bytes, std::optional<uint64_t>(300 << 20));
  EXPECT_EQ(higher->after_bytes, std::optional<uint64_t>((400 << 20) + page));
}

TEST(BoundKataOverhead, AMissingCgroupIsNotFoundAndABadIdOpensNothing) {
  TempTree t("v2-cgroupfs");
  PodCgroups cgroups({.cgroup_root = t.root()});
  auto missing = cgroups.BoundKataOverhead("0123456789abcdef", 1 << 30);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
  for (const char* bad : {"", "../kubepods", "a/b", ".x", "-x"}) {
    auto r = cgroups.BoundKataOverhead(bad, 1 << 30);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput) << bad << ": " << r.error().message;
  }
  EXPECT_EQ(t.Read(kCgroupfsPod + "/memory.max"), "704643072\n") << "nothing was written";
}

}  // namespace
}  // namespace uvm::cgroups
