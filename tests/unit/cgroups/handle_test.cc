#include "cgroups/handle.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/unit/cgroups/temp_tree.h"

namespace uvm::cgroups {
namespace {

using testing::FixturePath;
using testing::TempTree;

constexpr char kUid[] = "1c9e5a7e-3f1b-4a3e-9a57-2a8c0d3e4f51";
constexpr char kSliceParent[] = "kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice";
constexpr char kSid[] = "4f2b8e3c1d9a7b6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
const std::string kCgroupfsParent = std::string("/kubepods/burstable/pod") + kUid;
const std::string kCgroupfsPod = std::string("kubepods/burstable/pod") + kUid;

CgroupLayout Probe(const std::string& root) {
  auto l = ProbeLayout(root);
  EXPECT_TRUE(l) << l.error().message;
  return l ? *l : CgroupLayout{};
}

TEST(ReadSample, V2SystemdSliceTree) {
  CgroupLayout layout = Probe(FixturePath("v2-systemd"));
  PodCgroupPaths paths;
  auto h = ResolvePodCgroup(kSliceParent, kSid, layout, {}, &paths);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->path(), "/" + paths.pod);
  auto s = h->ReadSample();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->version, 2);
  EXPECT_EQ(s->memory_limit_bytes, std::optional<uint64_t>(704643072));
  EXPECT_EQ(s->memory_high_bytes, std::nullopt) << "\"max\" is unlimited";
  EXPECT_EQ(s->memsw_limit_bytes, std::nullopt);
  EXPECT_EQ(s->memory_usage_bytes, 70254592u);
  EXPECT_EQ(s->shmem_bytes, std::optional<uint64_t>(4194304));
  EXPECT_EQ(s->file_bytes, std::optional<uint64_t>(13631488));
  EXPECT_EQ(s->anon_bytes, std::optional<uint64_t>(52428800));
  EXPECT_EQ(s->events.high, std::optional<uint64_t>(7));
  EXPECT_EQ(s->events.max, std::optional<uint64_t>(31));
  EXPECT_EQ(s->events.oom, std::optional<uint64_t>(2));
  EXPECT_EQ(s->events.oom_kill, std::optional<uint64_t>(1));
  EXPECT_EQ(s->cpu_quota_us, std::optional<uint64_t>(175000));
  EXPECT_EQ(s->cpu_period_us, std::optional<uint64_t>(100000));
  EXPECT_EQ(s->cpu_usage_usec, std::optional<uint64_t>(498287487));
  ASSERT_TRUE(s->memory_pressure);
  EXPECT_DOUBLE_EQ(s->memory_pressure->some.avg10, 1.25);
  ASSERT_TRUE(s->memory_pressure->full);
  EXPECT_DOUBLE_EQ(s->memory_pressure->full->avg10, 0.75);
  ASSERT_TRUE(s->cpu_pressure);
  EXPECT_EQ(s->cpu_pressure->some.total_us, 74071629u);

  // The sandbox's scope below the pod slice: unlimited reads as nullopt, not a number.
  auto scope = CgroupHandle::Open(layout, paths.sandbox);
  ASSERT_TRUE(scope) << scope.error().message;
  auto ss = scope->ReadSample();
  ASSERT_TRUE(ss) << ss.error().message;
  EXPECT_EQ(ss->memory_limit_bytes, std::nullopt);
  EXPECT_EQ(ss->cpu_quota_us, std::nullopt);
  EXPECT_EQ(ss->cpu_period_us, std::optional<uint64_t>(100000));
}

TEST(ReadSample, V1CgroupfsTreeUsesHierarchicalTotals) {
  CgroupLayout layout = Probe(FixturePath("v1-cgroupfs"));
  auto h = ResolvePodCgroup(kCgroupfsParent, "", layout);
  ASSERT_TRUE(h) << h.error().message;
  auto s = h->ReadSample();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->version, 1);
  EXPECT_EQ(s->memory_limit_bytes, std::optional<uint64_t>(704643072));
  EXPECT_EQ(s->memsw_limit_bytes, std::optional<uint64_t>(704643072));
  EXPECT_EQ(s->memory_usage_bytes, 30408704u);
  EXPECT_EQ(s->shmem_bytes, std::optional<uint64_t>(0));
  EXPECT_EQ(s->file_bytes, std::optional<uint64_t>(27426816));
  EXPECT_EQ(s->anon_bytes, std::optional<uint64_t>(2523136));
  EXPECT_EQ(s->events.max, std::optional<uint64_t>(5)) << "memory.failcnt";
  EXPECT_EQ(s->events.oom_kill, std::optional<uint64_t>(3));
  EXPECT_EQ(s->events.high, std::nullopt);
  EXPECT_EQ(s->cpu_quota_us, std::optional<uint64_t>(175000));
  EXPECT_EQ(s->cpu_period_us, std::optional<uint64_t>(100000));
  EXPECT_EQ(s->cpu_usage_usec, std::optional<uint64_t>(504874727));
  EXPECT_EQ(s->memory_pressure, std::nullopt) << "no unified tree in this fixture";

  auto besteffort =
      ResolvePodCgroup("/kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e", "", layout);
  ASSERT_TRUE(besteffort);
  auto bs = besteffort->ReadSample();
  ASSERT_TRUE(bs);
  EXPECT_EQ(bs->memory_limit_bytes, std::nullopt) << "9223372036854771712 is v1's unlimited";
}

TEST(ReadSample, KeptFdsSeeNewValues) {
  TempTree t("v2-cgroupfs");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  ASSERT_EQ(h->ReadSample()->memory_usage_bytes, 70254592u);
  t.Write(kCgroupfsPod + "/memory.current", "1234\n");
  EXPECT_EQ(h->ReadSample()->memory_usage_bytes, 1234u);
}

TEST(ReadSample, MissingPodIsAnErrorNamingThePath) {
  auto h = ResolvePodCgroup("/kubepods/burstable/pod00000000-0000-0000-0000-000000000000", "",
                            Probe(FixturePath("v2-cgroupfs")));
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("pod00000000-0000-0000-0000-000000000000: No such file"),
            std::string::npos)
      << h.error().message;
  EXPECT_EQ(h.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(h.error().sys_errno, ENOENT);
}

TEST(ReadSample, SymlinkedControlFileIsNotFollowed) {
  TempTree t("v2-cgroupfs");
  t.Write("secret/memory.max", "1\n");
  std::filesystem::remove(t.Path(kCgroupfsPod + "/memory.max"));
  std::filesystem::create_symlink(t.Path("secret/memory.max"), t.Path(kCgroupfsPod + "/memory.max"));
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  auto s = h->ReadSample();
  ASSERT_FALSE(s) << "read " << *s->memory_limit_bytes << " through a symlink";
  EXPECT_NE(s.error().message.find("symbolic link"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
}

// The cgroup a hostile path wants to reach exists and is readable; the refusal happens before anything
// is opened, which inotify proves: no directory of the tree sees an open.
class InotifyWatch {
 public:
  InotifyWatch() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}
  ~InotifyWatch() { close(fd_); }
  void Add(const std::string& dir) {
    ASSERT_GE(inotify_add_watch(fd_, dir.c_str(), IN_OPEN | IN_ACCESS), 0) << dir;
  }
  int Events() {
    alignas(inotify_event) char buf[4096];
    int n = 0;
    ssize_t len;
    while ((len = read(fd_, buf, sizeof buf)) > 0) {
      for (char* p = buf; p < buf + len;
           p += sizeof(inotify_event) + reinterpret_cast<inotify_event*>(p)->len)
        ++n;
    }
    return n;
  }

 private:
  int fd_;
};

class RefusedBeforeOpen : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(RefusedBeforeOpen, NothingIsOpened) {
  TempTree t("v2-cgroupfs");
  // Escape targets: a "secret" cgroup beside the tree and another pod inside it, both readable.
  t.Write("secret/memory.max", "1\n");
  t.Write("secret/memory.current", "1\n");
  t.Write("kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e/memory.max", "max\n");
  t.Write("kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e/memory.current", "1\n");
  CgroupLayout layout = Probe(t.root());
  InotifyWatch watch;
  for (const char* d : {"", "secret", "kubepods", "kubepods/burstable", "kubepods/besteffort",
                        "kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e"}) {
    watch.Add(t.Path(d));
  }
  watch.Add(t.Path(kCgroupfsPod));
  const auto& [parent, sandbox] = GetParam();
  PathRules rules{.pod_uid = kUid};
  auto h = ResolvePodCgroup(parent, sandbox, layout, rules);
  ASSERT_FALSE(h) << "resolved " << parent << " to " << h->path();
  EXPECT_NE(h.error().message.find("refused"), std::string::npos) << h.error().message;
  EXPECT_EQ(h.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(watch.Events(), 0) << "something was opened before the refusal";

  // The control: resolving and reading the pod's own path does show up in inotify.
  auto own = ResolvePodCgroup(kCgroupfsParent, "", layout, rules);
  ASSERT_TRUE(own) << own.error().message;
  ASSERT_TRUE(own->ReadSample());
  EXPECT_GT(watch.Events(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, RefusedBeforeOpen,
    ::testing::Values(
        std::pair<std::string, std::string>{
            "/kubepods/burstable/pod" + std::string(kUid) + "/../../../secret", ""},
        std::pair<std::string, std::string>{"/kubepods/../secret", ""},
        std::pair<std::string, std::string>{"/secret", ""},
        std::pair<std::string, std::string>{"/kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e",
                                            ""},
        std::pair<std::string, std::string>{"/kubepods/burstable/pod" + std::string(kUid), "../../../secret"},
        std::pair<std::string, std::string>{std::string("/kubepods/burstable/pod\0/../../secret", 37), ""},
        std::pair<std::string, std::string>{"/kubepods/burstable/pod" + std::string(4096, 'a'), ""}));

class SymlinkInTree : public ::testing::TestWithParam<BeneathMethod> {};

TEST_P(SymlinkInTree, PodDirectoryLinkIsRefused) {
  TempTree t("v2-cgroupfs");
  t.Write("secret/memory.max", "1\n");
  t.Write("secret/memory.current", "1\n");
  std::filesystem::remove_all(t.Path(kCgroupfsPod));
  std::filesystem::create_directory_symlink(t.Path("secret"), t.Path(kCgroupfsPod));
  auto h = CgroupHandle::Open(Probe(t.root()), kCgroupfsPod, GetParam());
  ASSERT_FALSE(h) << "opened a symlinked pod directory";
  EXPECT_NE(h.error().message.find("symbolic link"), std::string::npos) << h.error().message;
  EXPECT_EQ(h.error().code, ErrorCode::kInvalidInput);
}

TEST_P(SymlinkInTree, IntermediateLinkIsRefused) {
  TempTree t("v2-cgroupfs");
  std::filesystem::rename(t.Path("kubepods"), t.Path("elsewhere"));
  std::filesystem::create_directory_symlink("elsewhere", t.Path("kubepods"));
  auto h = CgroupHandle::Open(Probe(t.root()), kCgroupfsPod, GetParam());
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("symbolic link"), std::string::npos) << h.error().message;
}

TEST_P(SymlinkInTree, PlainTreeOpens) {
  TempTree t("v2-cgroupfs");
  EXPECT_TRUE(CgroupHandle::Open(Probe(t.root()), kCgroupfsPod, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Methods, SymlinkInTree,
                         ::testing::Values(BeneathMethod::kAuto, BeneathMethod::kOpenat2,
                                           BeneathMethod::kComponentWalk));

TEST(RaiseMemoryLimit, V2RaisesMaxKeepsTheHighGapAndIsIdempotent) {
  TempTree t("v2-cgroupfs");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  auto r = h->RaiseMemoryLimit(805306368);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  EXPECT_EQ(r->before, std::optional<uint64_t>(704643072));
  EXPECT_EQ(r->after, std::optional<uint64_t>(805306368));
  EXPECT_EQ(t.Read(kCgroupfsPod + "/memory.max"), "805306368");
  EXPECT_EQ(t.Read(kCgroupfsPod + "/memory.high"), "771751936") << "671088640 + (805306368 - 704643072)";
  ASSERT_EQ(r->changes.size(), 2u);
  EXPECT_EQ(r->changes[0].file, t.Path(kCgroupfsPod + "/memory.max"));
  EXPECT_EQ(r->changes[0].before, "704643072");
  EXPECT_EQ(r->changes[0].after, "805306368");
  EXPECT_NE(r->Summary().find("704643072 -> 805306368"), std::string::npos) << r->Summary();

  auto again = h->RaiseMemoryLimit(805306368);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->written());
  EXPECT_NE(again->changes[0].why.find("already at or above"), std::string::npos);

  auto lower = h->RaiseMemoryLimit(104857600);
  ASSERT_TRUE(lower);
  EXPECT_FALSE(lower->written()) << "never lowers";
  EXPECT_EQ(t.Read(kCgroupfsPod + "/memory.max"), "805306368");
}

TEST(RaiseMemoryLimit, RoundsUpToAPageSoTheNextCompareIsEqual) {
  TempTree t("v2-cgroupfs");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  auto r = h->RaiseMemoryLimit(805306368 + 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(t.Read(kCgroupfsPod + "/memory.max"), std::to_string(805306368 + page));
  EXPECT_FALSE(h->RaiseMemoryLimit(805306368 + 1)->written());
}

TEST(RaiseMemoryLimit, UnlimitedStaysUnlimited) {
  TempTree t("v2-cgroupfs");
  auto h = CgroupHandle::Open(Probe(t.root()), kCgroupfsPod + "/" + kSid);
  ASSERT_TRUE(h);
  auto r = h->RaiseMemoryLimit(805306368);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->written());
  EXPECT_EQ(r->before, std::nullopt);
  EXPECT_EQ(t.Read(kCgroupfsPod + "/" + kSid + "/memory.max"), "max\n");
}

TEST(RaiseMemoryLimit, V1RaisesMemswFirst) {
  TempTree t("v1-cgroupfs");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  auto r = h->RaiseMemoryLimit(805306368);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->changes.size(), 2u);
  EXPECT_EQ(r->changes[0].file, t.Path("memory/" + kCgroupfsPod + "/memory.memsw.limit_in_bytes"));
  EXPECT_EQ(r->changes[1].file, t.Path("memory/" + kCgroupfsPod + "/memory.limit_in_bytes"));
  EXPECT_EQ(t.Read("memory/" + kCgroupfsPod + "/memory.memsw.limit_in_bytes"), "805306368");
  EXPECT_EQ(t.Read("memory/" + kCgroupfsPod + "/memory.limit_in_bytes"), "805306368");
  EXPECT_FALSE(h->RaiseMemoryLimit(805306368)->written());
}

TEST(RaiseMemoryLimit, V1LeavesAnUnlimitedMemswAlone) {
  TempTree t("v1-cgroupfs");
  t.Write("memory/" + kCgroupfsPod + "/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  auto r = h->RaiseMemoryLimit(805306368);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(t.Read("memory/" + kCgroupfsPod + "/memory.memsw.limit_in_bytes"), "9223372036854771712\n");
}

TEST(RaiseCpuQuota, V2) {
  TempTree t("v2-cgroupfs");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  auto same_rate = h->RaiseCpuQuota({350000, 200000});
  ASSERT_TRUE(same_rate) << same_rate.error().message;
  EXPECT_FALSE(same_rate->written()) << "175000/100000 is the same rate";
  auto r = h->RaiseCpuQuota({200000, 100000});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  EXPECT_EQ(t.Read(kCgroupfsPod + "/cpu.max"), "200000 100000");
  EXPECT_EQ(r->before, std::optional<uint64_t>(175000));
  EXPECT_EQ(r->after, std::optional<uint64_t>(200000));
  EXPECT_FALSE(h->RaiseCpuQuota({200000, 100000})->written());
  EXPECT_FALSE(h->RaiseCpuQuota({100000, 100000})->written());
  EXPECT_FALSE(h->RaiseCpuQuota({500, 100000})) << "below the kernel's 1 ms minimum";
}

TEST(RaiseCpuQuota, V1OrdersQuotaAndPeriodSoTheRateNeverDips) {
  TempTree t("v1-cgroupfs");
  const std::string dir = "cpu,cpuacct/" + kCgroupfsPod;
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  // A longer period: quota first (400000 per the old 100000 is above the old rate), then the period.
  auto longer = h->RaiseCpuQuota({400000, 200000});
  ASSERT_TRUE(longer) << longer.error().message;
  ASSERT_EQ(longer->changes.size(), 2u);
  EXPECT_EQ(longer->changes[0].file, t.Path(dir + "/cpu.cfs_quota_us"));
  EXPECT_EQ(longer->changes[1].file, t.Path(dir + "/cpu.cfs_period_us"));
  EXPECT_EQ(t.Read(dir + "/cpu.cfs_quota_us"), "400000");
  EXPECT_EQ(t.Read(dir + "/cpu.cfs_period_us"), "200000");
  // A shorter period: the period first (the old quota per a shorter period is more), then the quota.
  auto shorter = h->RaiseCpuQuota({150000, 50000});
  ASSERT_TRUE(shorter) << shorter.error().message;
  ASSERT_EQ(shorter->changes.size(), 2u);
  EXPECT_EQ(shorter->changes[0].file, t.Path(dir + "/cpu.cfs_period_us"));
  EXPECT_EQ(shorter->changes[1].file, t.Path(dir + "/cpu.cfs_quota_us"));
  EXPECT_FALSE(h->RaiseCpuQuota({150000, 50000})->written());
}

TEST(RaiseCpuQuota, UnlimitedStaysUnlimited) {
  TempTree t("v1-cgroupfs");
  t.Write("cpu,cpuacct/" + kCgroupfsPod + "/cpu.cfs_quota_us", "-1\n");
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(t.root()));
  ASSERT_TRUE(h);
  auto r = h->RaiseCpuQuota({200000, 100000});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->written());
  EXPECT_EQ(r->before, std::nullopt);
}

TEST(AddPressureTrigger, NeedsAUnifiedTree) {
  auto h = ResolvePodCgroup(kCgroupfsParent, "", Probe(FixturePath("v1-cgroupfs")));
  ASSERT_TRUE(h);
  auto trig = h->AddPressureTrigger(PsiResource::kMemory, {});
  ASSERT_FALSE(trig);
  EXPECT_NE(trig.error().message.find("no PSI"), std::string::npos);
  EXPECT_EQ(trig.error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace uvm::cgroups
