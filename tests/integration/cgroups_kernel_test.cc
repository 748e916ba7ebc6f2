// cgroups/ on the real kernel of this machine: v1 memory and cpu writes and reads, tmpfs charges, PSI
// triggers on the unified tree. Skips (loudly) only where the kernel lacks a hierarchy or PSI.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "cgroups/handle.h"
#include "cgroups/layout.h"
#include "cgroups/pod_cgroup.h"
#include "tests/integration/cgroups_real.h"

namespace uvm::cgroups {
namespace {

using testing::ReadSysFile;
using testing::RealPodCgroup;
using testing::WriteSysFile;

constexpr uint64_t kMiB = 1024 * 1024;

class RealCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    auto layout = DetectLayout();
    if (!layout) GTEST_SKIP() << "no cgroup hierarchy here: " << layout.error().message;
    layout_ = *layout;
    if (layout_.memory_v1.empty() || layout_.cpu_v1.empty()) {
      GTEST_SKIP() << "these tests need the v1 memory and cpu controllers; layout is "
                   << LayoutName(layout_.kind) << " (the v2 paths are covered on fixture trees)";
    }
    if (access((layout_.memory_v1 + "/cgroup.procs").c_str(), W_OK) != 0) {
      GTEST_SKIP() << layout_.memory_v1 << " is not writable here";
    }
  }
  CgroupLayout layout_;
};

TEST_F(RealCgroups, LayoutOfThisMachine) {
  EXPECT_EQ(layout_.memory_version(), 1);
  EXPECT_FALSE(layout_.cpuacct_v1.empty());
}

TEST_F(RealCgroups, V1MemoryRaiseIsRaiseOnlyIdempotentAndKeepsMemswOrder) {
  RealPodCgroup pod(layout_);
  std::string mem = pod.Dir(layout_.memory_v1);
  PathRules rules{.kubelet_cgroup_root = pod.kubelet_root(), .pod_uid = testing::kTestUid};
  auto h = ResolvePodCgroup(pod.cgroup_parent(), "", layout_, rules);
  ASSERT_TRUE(h) << h.error().message;

  auto unlimited = h->RaiseMemoryLimit(128 * kMiB);
  ASSERT_TRUE(unlimited) << unlimited.error().message;
  EXPECT_FALSE(unlimited->written()) << "a new cgroup is unlimited and stays so";

  // What the kubelet (runc) does on v1: limit and memsw at the same value (no swap for the pod).
  bool has_memsw = std::filesystem::exists(mem + "/memory.memsw.limit_in_bytes");
  ASSERT_TRUE(WriteSysFile(mem + "/memory.limit_in_bytes", std::to_string(64 * kMiB)));
  if (has_memsw) {
    ASSERT_TRUE(WriteSysFile(mem + "/memory.memsw.limit_in_bytes", std::to_string(64 * kMiB)));
  }
  auto before = h->ReadSample();
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(before->memory_limit_bytes, std::optional<uint64_t>(64 * kMiB));

  // Writing the limit before memsw would be EINVAL here: the kernel enforces the order.
  auto r = h->RaiseMemoryLimit(128 * kMiB);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  EXPECT_EQ(r->before, std::optional<uint64_t>(64 * kMiB));
  EXPECT_EQ(r->after, std::optional<uint64_t>(128 * kMiB));
  EXPECT_EQ(ReadSysFile(mem + "/memory.limit_in_bytes"), std::to_string(128 * kMiB));
  if (has_memsw) {
    EXPECT_EQ(ReadSysFile(mem + "/memory.memsw.limit_in_bytes"), std::to_string(128 * kMiB));
    ASSERT_EQ(r->changes.size(), 2u);
    EXPECT_NE(r->changes[0].file.find("memsw"), std::string::npos);
  }
  auto again = h->RaiseMemoryLimit(128 * kMiB);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->written());
  auto lower = h->RaiseMemoryLimit(32 * kMiB);
  ASSERT_TRUE(lower);
  EXPECT_FALSE(lower->written());
  EXPECT_EQ(ReadSysFile(mem + "/memory.limit_in_bytes"), std::to_string(128 * kMiB));
  // A target that is not page aligned: the kernel rounds down, we round up, so it compares equal after.
  auto odd = h->RaiseMemoryLimit(200 * kMiB + 1);
  ASSERT_TRUE(odd) << odd.error().message;
  EXPECT_TRUE(odd->written());
  EXPECT_FALSE(h->RaiseMemoryLimit(200 * kMiB + 1)->written());
  auto s = h->ReadSample();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->memory_limit_bytes,
            std::optional<uint64_t>(200 * kMiB + static_cast<uint64_t>(getpagesize())));
}

TEST_F(RealCgroups, AValueTheKernelRefusesIsInvalidInputWithItsErrno) {
  RealPodCgroup pod(layout_);
  std::string mem = pod.Dir(layout_.memory_v1);
  if (!std::filesystem::exists(mem + "/memory.memsw.limit_in_bytes")) {
    GTEST_SKIP() << "no swap accounting: nothing makes the kernel refuse a memory limit here";
  }
  ASSERT_TRUE(WriteSysFile(mem + "/memory.limit_in_bytes", std::to_string(32 * kMiB)));
  ASSERT_TRUE(WriteSysFile(mem + "/memory.memsw.limit_in_bytes", std::to_string(64 * kMiB)));
  PathRules rules{.kubelet_cgroup_root = pod.kubelet_root(), .pod_uid = testing::kTestUid};
  auto h = ResolvePodCgroup(pod.cgroup_parent(), "", layout_, rules);
  ASSERT_TRUE(h) << h.error().message;
  // mm/memcontrol-v1.c: a memory limit above memsw is EINVAL.
  auto st = h->SetMemoryLimit(128 * kMiB);
  ASSERT_FALSE(st) << "the kernel took a memory limit above memsw";
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidInput) << st.error().message;
  EXPECT_EQ(st.error().sys_errno, EINVAL) << st.error().message;
  EXPECT_EQ(ReadSysFile(mem + "/memory.limit_in_bytes"), std::to_string(32 * kMiB)) << "nothing changed";
}

TEST_F(RealCgroups, PodCgroupsReadsAndRaisesARealV1Pod) {
  RealPodCgroup pod(layout_);
  std::string mem = pod.Dir(layout_.memory_v1);
  ASSERT_TRUE(WriteSysFile(mem + "/memory.limit_in_bytes", std::to_string(64 * kMiB)));
  PodCgroups cgroups({.kubelet_cgroup_root = pod.kubelet_root()});
  auto other = cgroups.OpenPod(pod.cgroup_parent(), "0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kInvalidInput);
  auto p = cgroups.OpenPod(pod.cgroup_parent(), testing::kTestUid);
  ASSERT_TRUE(p) << p.error().message;
  auto s = p->ReadSample();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->version, 1);
  EXPECT_EQ(s->memory_limit_bytes, std::optional<uint64_t>(64 * kMiB));
  EXPECT_EQ(CriCpuQuota(*s), std::optional<int64_t>(-1)) << "a new v1 cgroup has no CFS quota";
  auto r = cgroups.RaiseMemoryLimit(*p, 96 * kMiB);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  EXPECT_EQ(ReadSysFile(mem + "/memory.limit_in_bytes"), std::to_string(96 * kMiB));
}

// /kata_overhead/<id> as Kata makes it with sandbox_cgroup_only=false: a cgroup at the hierarchy root.
TEST_F(RealCgroups, KataOverheadIsBoundOnceThenOnlyRaisedAndAMissingOneIsNotFound) {
  std::string parent = layout_.memory_v1 + "/kata_overhead";
  bool made_parent = mkdir(parent.c_str(), 0755) == 0;
  std::string id = "uvm-test-" + std::to_string(getpid());
  std::string dir = parent + "/" + id;
  struct Cleanup {
    std::string dir, parent;
    bool made_parent;
    ~Cleanup() {
      rmdir(dir.c_str());
      if (made_parent) rmdir(parent.c_str());
    }
  } cleanup{dir, parent, made_parent};
  PodCgroups cgroups;
  auto missing = cgroups.BoundKataOverhead(id, 256 * kMiB);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;

  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  auto first = cgroups.BoundKataOverhead(id, 256 * kMiB);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->written);
  EXPECT_EQ(first->before_bytes, std::nullopt);
  EXPECT_EQ(ReadSysFile(dir + "/memory.limit_in_bytes"), std::to_string(256 * kMiB));
  auto lower = cgroups.BoundKataOverhead(id, 128 * kMiB);
  ASSERT_TRUE(lower) << lower.error().message;
  EXPECT_FALSE(lower->written);
  auto higher = cgroups.BoundKataOverhead(id, 512 * kMiB);
  ASSERT_TRUE(higher) << higher.error().message;
  EXPECT_TRUE(higher->written);
  EXPECT_EQ(ReadSysFile(dir + "/memory.limit_in_bytes"), std::to_string(512 * kMiB));
}

TEST_F(RealCgroups, V1CpuQuotaRaise) {
  RealPodCgroup pod(layout_);
  std::string cpu = pod.Dir(layout_.cpu_v1);
  auto h = CgroupHandle::Open(layout_, pod.relative());
  ASSERT_TRUE(h) << h.error().message;
  auto s = h->ReadSample();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->cpu_quota_us, std::nullopt) << "-1 is unlimited";
  EXPECT_EQ(s->cpu_period_us, std::optional<uint64_t>(100000));
  EXPECT_TRUE(s->cpu_usage_usec) << "cpuacct.usage from the separate cpuacct hierarchy";

  ASSERT_TRUE(WriteSysFile(cpu + "/cpu.cfs_quota_us", "50000"));
  auto r = h->RaiseCpuQuota({175000, 100000});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->written());
  EXPECT_EQ(ReadSysFile(cpu + "/cpu.cfs_quota_us"), "175000");
  EXPECT_FALSE(h->RaiseCpuQuota({175000, 100000})->written());
  // A longer period, same order of writes the kernel accepts.
  auto longer = h->RaiseCpuQuota({400000, 200000});
  ASSERT_TRUE(longer) << longer.error().message;
  EXPECT_EQ(ReadSysFile(cpu + "/cpu.cfs_quota_us"), "400000");
  EXPECT_EQ(ReadSysFile(cpu + "/cpu.cfs_period_us"), "200000");
  auto after = h->ReadSample();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->cpu_quota_us, std::optional<uint64_t>(400000));
  EXPECT_EQ(after->cpu_period_us, std::optional<uint64_t>(200000));
}

// A child joins the pod's v1 memory cgroup and writes `mib` MiB into a tmpfs file; the pages stay charged
// to the cgroup after it exits, until the file is unlinked.
pid_t WriteTmpfsFromCgroup(const std::string& procs_file, const std::string& path, size_t mib) {
  std::string chunk(kMiB, 'x');
  pid_t pid = fork();
  if (pid == 0) {
    int procs = open(procs_file.c_str(), O_WRONLY);
    if (procs < 0 || write(procs, "0", 1) != 1) _exit(10);
    close(procs);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) _exit(11);
    for (size_t i = 0; i < mib; ++i) {
      if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) _exit(12);
    }
    close(fd);
    _exit(0);
  }
  return pid;
}

TEST_F(RealCgroups, TmpfsWritesRaiseShmemAndUsage) {
  RealPodCgroup pod(layout_);
  auto h = CgroupHandle::Open(layout_, pod.relative());
  ASSERT_TRUE(h) << h.error().message;
  auto before = h->ReadSample();
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_TRUE(before->shmem_bytes);

  std::string file = "/dev/shm/uvm-cgroups-test-" + std::to_string(getpid());
  struct Unlink {
    std::string path;
    ~Unlink() { unlink(path.c_str()); }
  } unlink_file{file};
  constexpr size_t kWritten = 32;
  pid_t pid = WriteTmpfsFromCgroup(pod.Dir(layout_.memory_v1) + "/cgroup.procs", file, kWritten);
  ASSERT_GT(pid, 0);
  pod.Adopt(pid);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  pod.Reaped(pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;

  auto after = h->ReadSample();
  ASSERT_TRUE(after) << after.error().message;
  uint64_t shmem_delta = *after->shmem_bytes - *before->shmem_bytes;
  int64_t usage_delta =
      static_cast<int64_t>(after->memory_usage_bytes) - static_cast<int64_t>(before->memory_usage_bytes);
  EXPECT_GE(shmem_delta, kWritten * kMiB);
  EXPECT_LE(shmem_delta, kWritten * kMiB + kMiB);
  EXPECT_GE(usage_delta, static_cast<int64_t>(kWritten * kMiB));
  // The exited child's own pages are gone; a little slab and page tables may remain.
  EXPECT_LE(usage_delta, static_cast<int64_t>((kWritten + 4) * kMiB));

  unlink(file.c_str());
  auto freed = h->ReadSample();
  ASSERT_TRUE(freed);
  EXPECT_LT(*freed->shmem_bytes, *after->shmem_bytes - (kWritten - 1) * kMiB) << "unlink uncharges";
}

TEST_F(RealCgroups, PsiTriggerFiresUnderMemoryPressure) {
  if (layout_.unified.empty()) GTEST_SKIP() << "no cgroup2 tree: no per-cgroup PSI on this host";
  if (!std::filesystem::exists(layout_.unified + "/memory.pressure")) {
    GTEST_SKIP() << "the kernel has no PSI (CONFIG_PSI off or psi=0)";
  }
  RealPodCgroup pod(layout_);
  std::string mem = pod.Dir(layout_.memory_v1);
  // A tight limit: page cache beyond it is reclaimed on every pass, and reclaim is a memory stall
  // (mm/memcontrol.c wraps memcg reclaim in psi_memstall_enter), accounted to the task's cgroup2 cgroup.
  ASSERT_TRUE(WriteSysFile(mem + "/memory.limit_in_bytes", std::to_string(16 * kMiB)));
  auto h = CgroupHandle::Open(layout_, pod.relative());
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_TRUE(h->has_unified());
  // 2 s: without CAP_SYS_RESOURCE the window must be a multiple of 2 s; 50 ms of stall in it.
  auto trigger = h->AddPressureTrigger(
      PsiResource::kMemory, {PsiStall::kSome, std::chrono::milliseconds(50), std::chrono::seconds(2)});
  ASSERT_TRUE(trigger) << trigger.error().message;

  std::string data = std::filesystem::temp_directory_path().string() + "/uvm-psi-" + std::to_string(getpid());
  if (std::filesystem::space(std::filesystem::temp_directory_path()).available < 256 * kMiB) {
    GTEST_SKIP() << "not enough disk for the page-cache churn file";
  }
  struct Unlink {
    std::string path;
    ~Unlink() { unlink(path.c_str()); }
  } unlink_file{data};
  std::string chunk(kMiB, 'p');
  std::string mem_procs = mem + "/cgroup.procs";
  std::string uni_procs = pod.Dir(layout_.unified) + "/cgroup.procs";
  pid_t pid = fork();
  if (pid == 0) {
    for (const std::string* procs : {&mem_procs, &uni_procs}) {
      int fd = open(procs->c_str(), O_WRONLY);
      if (fd < 0 || write(fd, "0", 1) != 1) _exit(10);
      close(fd);
    }
    int fd = open(data.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) _exit(11);
    for (int i = 0; i < 64; ++i) {
      if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) _exit(12);
    }
    // Churn: 64 MiB of page cache through a 16 MiB cgroup, until killed.
    std::string buf(kMiB, '\0');
    for (;;) {
      for (off_t off = 0; off < 64 * static_cast<off_t>(kMiB); off += static_cast<off_t>(kMiB)) {
        if (pread(fd, buf.data(), buf.size(), off) < 0) _exit(13);
      }
    }
  }
  ASSERT_GT(pid, 0);
  pod.Adopt(pid);
  // Bounded: the trigger fires within a window or two; 20 s only guards against a broken kernel.
  auto event = trigger->Wait(std::chrono::seconds(20));
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(*event, PsiEvent::kFired);
  auto s = h->ReadSample();
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->memory_pressure) << "PSI read from the unified tree on a hybrid host";
  EXPECT_GT(s->memory_pressure->some.total_us, 50000u);
}

TEST_F(RealCgroups, PsiTriggerReportsTheCgroupGone) {
  if (layout_.unified.empty()) GTEST_SKIP() << "no cgroup2 tree: no per-cgroup PSI on this host";
  if (!std::filesystem::exists(layout_.unified + "/memory.pressure")) GTEST_SKIP() << "the kernel has no PSI";
  std::string rel = "uvm-test-gone-" + std::to_string(getpid());
  std::string dir = layout_.unified + "/" + rel;
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  struct Rmdir {
    std::string path;
    ~Rmdir() { rmdir(path.c_str()); }
  } cleanup{dir};
  CgroupLayout v2{.kind = LayoutKind::kV2, .unified = layout_.unified};
  auto h = CgroupHandle::Open(v2, rel);
  ASSERT_TRUE(h) << h.error().message;
  auto trigger = h->AddPressureTrigger(PsiResource::kMemory, {});
  ASSERT_TRUE(trigger) << trigger.error().message;
  EXPECT_EQ(*trigger->Wait(std::chrono::milliseconds(0)), PsiEvent::kNone);
  ASSERT_EQ(rmdir(dir.c_str()), 0) << std::strerror(errno);
  auto event = trigger->Wait(std::chrono::seconds(5));
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(*event, PsiEvent::kCgroupGone);
}

TEST_F(RealCgroups, AReadThroughKeptFdsOfARemovedCgroupIsGone) {
  std::string rel = "uvm-test-removed-" + std::to_string(getpid());
  std::string dir = layout_.memory_v1 + "/" + rel;
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  struct Rmdir {
    std::string path;
    ~Rmdir() { rmdir(path.c_str()); }
  } cleanup{dir};
  CgroupLayout memory_only{.kind = LayoutKind::kV1, .memory_v1 = layout_.memory_v1};
  auto h = CgroupHandle::Open(memory_only, rel);
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_TRUE(h->ReadSample());  // opens and keeps the control files
  ASSERT_EQ(rmdir(dir.c_str()), 0) << std::strerror(errno);
  auto s = h->ReadSample();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kGone) << s.error().message;
  EXPECT_EQ(s.error().sys_errno, ENODEV) << s.error().message;
}

TEST_F(RealCgroups, PsiWindowNotAMultipleOfTwoSecondsIsExplained) {
  if (layout_.unified.empty() || !std::filesystem::exists(layout_.unified + "/memory.pressure")) {
    GTEST_SKIP() << "no PSI on this host";
  }
  RealPodCgroup pod(layout_);
  auto h = CgroupHandle::Open(layout_, pod.relative());
  ASSERT_TRUE(h);
  auto t = h->AddPressureTrigger(PsiResource::kMemory,
                                 {PsiStall::kSome, std::chrono::milliseconds(150), std::chrono::seconds(1)});
  if (t) GTEST_SKIP() << "this process has CAP_SYS_RESOURCE: 1 s windows are allowed";
  EXPECT_NE(t.error().message.find("multiple of 2 s"), std::string::npos) << t.error().message;
}

}  // namespace
}  // namespace uvm::cgroups
