#include "cgroups/parsers.h"

#include <gtest/gtest.h>

#include "tests/unit/cgroups/temp_tree.h"

namespace uvm::cgroups {
namespace {

using testing::ReadFixture;

TEST(ParseCgroupMounts, ThisMachinesHybridLayoutWithSeparateCpuAndCpuacct) {
  auto mounts = ParseCgroupMounts(ReadFixture("mountinfo/hybrid-separate.txt"));
  ASSERT_TRUE(mounts) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 10u);  // 9 v1 hierarchies (one named) + cgroup2; tmpfs and ext4 skipped
  EXPECT_EQ((*mounts)[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ((*mounts)[0].controllers, std::vector<std::string>{"cpu"});
  EXPECT_EQ((*mounts)[8].mount_point, "/sys/fs/cgroup/systemd");
  EXPECT_TRUE((*mounts)[8].controllers.empty()) << "name=systemd is not a controller";
  EXPECT_TRUE((*mounts)[9].v2);
  EXPECT_EQ((*mounts)[9].mount_point, "/sys/fs/cgroup/unified");
}

TEST(ParseCgroupMounts, CoMountedControllersAndFlagsInSuperOptions) {
  auto mounts = ParseCgroupMounts(ReadFixture("mountinfo/v1-comounted.txt"));
  ASSERT_TRUE(mounts) << mounts.error().message;
  ASSERT_GE(mounts->size(), 2u);
  EXPECT_EQ((*mounts)[1].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ((*mounts)[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_TRUE((*mounts)[0].controllers.empty())
      << "xattr, release_agent=... and name=systemd are no controllers";
}

TEST(ParseCgroupMounts, DecodesOctalEscapesAndKeepsTheMountRoot) {
  auto mounts = ParseCgroupMounts(ReadFixture("mountinfo/v2-escaped.txt"));
  ASSERT_TRUE(mounts) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 2u);
  EXPECT_EQ((*mounts)[0].mount_point, "/host cgroup");
  EXPECT_EQ((*mounts)[0].root, "/kubepods.slice");
}

TEST(ParseCgroupMounts, TruncatedCgroupLineIsAnErrorWithItsLineNumber) {
  auto mounts =
      ParseCgroupMounts("26 1 8:2 / / rw - ext4 /dev/sda2 rw\n27 21 0:24 / /sys/fs/cgroup rw cgroup2\n");
  ASSERT_FALSE(mounts);
  EXPECT_NE(mounts.error().message.find("line 2"), std::string::npos) << mounts.error().message;
  EXPECT_EQ(mounts.error().code, ErrorCode::kInvalidInput);
}

TEST(ParseLimits, V2MaxIsUnlimitedAndNumbersAreBytes) {
  EXPECT_EQ(*ParseV2Limit("max\n", "memory.max"), std::nullopt);
  EXPECT_EQ(*ParseV2Limit("704643072\n", "memory.max"), std::optional<uint64_t>(704643072));
  auto bad = ParseV2Limit("-1\n", "/x/memory.max");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "/x/memory.max: expected \"max\" or an unsigned integer, got \"-1\\x0a\"");
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
}

TEST(ParseLimits, V1UnlimitedDependsOnPageSizeButIsNeverAMagicNumber) {
  EXPECT_EQ(*ParseV1MemoryLimit("9223372036854771712\n", "f"), std::nullopt);  // 4 KiB pages (this machine)
  EXPECT_EQ(*ParseV1MemoryLimit("9223372036854710272\n", "f"), std::nullopt);  // 64 KiB pages
  EXPECT_EQ(*ParseV1MemoryLimit("704643072\n", "f"), std::optional<uint64_t>(704643072));
  EXPECT_FALSE(ParseV1MemoryLimit("18446744073709551616\n", "f")) << "overflow is an error, not unlimited";
}

TEST(ParseLimits, CfsQuotaAndCpuMax) {
  EXPECT_EQ(*ParseV1CfsQuota("-1\n", "q"), std::nullopt);
  EXPECT_EQ(*ParseV1CfsQuota("175000\n", "q"), std::optional<uint64_t>(175000));
  EXPECT_FALSE(ParseV1CfsQuota("-2\n", "q"));
  auto unlimited = ParseCpuMax("max 100000\n", "cpu.max");
  ASSERT_TRUE(unlimited);
  EXPECT_EQ(unlimited->quota_us, std::nullopt);
  EXPECT_EQ(unlimited->period_us, 100000u);
  auto limited = ParseCpuMax("175000 100000\n", "cpu.max");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->quota_us, std::optional<uint64_t>(175000));
  EXPECT_FALSE(ParseCpuMax("175000\n", "cpu.max"));
  EXPECT_FALSE(ParseCpuMax("175000 0\n", "cpu.max"));
  EXPECT_FALSE(ParseCpuMax("1 2 3\n", "cpu.max"));
}

TEST(ParseKeyedValues, RealV1MemoryStatWithTotals) {
  std::string text = ReadFixture("files/v1-memory.stat");
  auto kv = ParseKeyedValues(text, "memory.stat");
  ASSERT_TRUE(kv) << kv.error().message;
  EXPECT_EQ(FindKey(*kv, "total_cache"), std::optional<uint64_t>(27426816));
  EXPECT_EQ(FindKey(*kv, "total_rss"), std::optional<uint64_t>(2523136));
  EXPECT_EQ(FindKey(*kv, "total_shmem"), std::optional<uint64_t>(0));
  EXPECT_EQ(FindKey(*kv, "hierarchical_memory_limit"), std::optional<uint64_t>(9223372036854771712ULL));
  EXPECT_EQ(FindKey(*kv, "no_such_key"), std::nullopt);
}

TEST(ParseKeyedValues, OomControlAndCpuStat) {
  std::string oom = ReadFixture("files/v1-memory.oom_control");
  auto kv = ParseKeyedValues(oom, "memory.oom_control");
  ASSERT_TRUE(kv);
  EXPECT_EQ(FindKey(*kv, "oom_kill"), std::optional<uint64_t>(0));
  std::string cpu = ReadFixture("files/v2-cpu.stat");
  auto stat = ParseKeyedValues(cpu, "cpu.stat");
  ASSERT_TRUE(stat);
  EXPECT_EQ(FindKey(*stat, "usage_usec"), std::optional<uint64_t>(498287487));
  EXPECT_EQ(FindKey(*stat, "nr_throttled"), std::optional<uint64_t>(12));
}

TEST(ParseKeyedValues, MalformedLineIsNamed) {
  auto kv = ParseKeyedValues("anon 1\nfile x\n", "/a/memory.stat");
  ASSERT_FALSE(kv);
  EXPECT_EQ(kv.error().message,
            "/a/memory.stat line 2: expected \"<key> <unsigned integer>\", got \"file x\"");
  EXPECT_EQ(kv.error().code, ErrorCode::kInvalidInput);
}

TEST(ParsePressure, SomeAndFull) {
  auto p = ParsePressure(ReadFixture("files/v2-cpu.pressure"), "cpu.pressure");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_DOUBLE_EQ(p->some.avg10, 2.48);
  EXPECT_DOUBLE_EQ(p->some.avg60, 16.50);
  EXPECT_DOUBLE_EQ(p->some.avg300, 14.47);
  EXPECT_EQ(p->some.total_us, 74071629u);
  ASSERT_TRUE(p->full);
  EXPECT_EQ(p->full->total_us, 0u);
}

TEST(ParsePressure, OldKernelCpuPressureWithoutFull) {
  auto p = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "cpu.pressure");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->full);
}

TEST(ParsePressure, RejectsWhatIsNotPsi) {
  EXPECT_FALSE(ParsePressure("", "p"));
  EXPECT_FALSE(ParsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "p")) << "no some line";
  EXPECT_FALSE(ParsePressure("some avg10=x avg60=0.00 avg300=0.00 total=0\n", "p"));
  EXPECT_FALSE(ParsePressure("some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n", "p"));
  EXPECT_FALSE(ParsePressure("some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", "p"));
}

TEST(QuoteForError, EscapesControlBytesAndCuts) {
  EXPECT_EQ(QuoteForError(std::string_view("a\0b", 3)), "\"a\\x00b\"");
  EXPECT_EQ(QuoteForError(std::string(100, 'x'), 4), "\"xxxx...\"");
}

}  // namespace
}  // namespace uvm::cgroups
