// `uvm-sizer inspect` end to end: the built binary on a real v1 cgroup of this machine and on a v2
// fixture tree, and its refusal of hostile paths (exit 2, nothing read).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cgroups/handle.h"
#include "cgroups/layout.h"
#include "tests/integration/cgroups_real.h"
#include "tests/support/subprocess.h"

namespace uvm::cgroups {
namespace {

using nlohmann::json;
using testing::RealPodCgroup;
using testing::WriteSysFile;
using uvm::testing::RunProcess;

constexpr uint64_t kMiB = 1024 * 1024;

// The binary under test: $UVM_SIZER_BIN (an installed one), else the one this build made.
std::string SizerBin() {
  if (const char* env = std::getenv("UVM_SIZER_BIN")) return env;
#ifdef UVM_SIZER_BIN
  return UVM_SIZER_BIN;
#else
  return "";
#endif
}

class InspectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = SizerBin();
    ASSERT_FALSE(bin_.empty()) << "no uvm-sizer target in this build and UVM_SIZER_BIN unset";
    ASSERT_TRUE(std::filesystem::exists(bin_)) << bin_;
  }
  std::string bin_;
};

TEST_F(InspectCli, RealV1CgroupLimitUsageAndShmem) {
  auto layout = DetectLayout();
  if (!layout || layout->memory_v1.empty() || layout->cpu_v1.empty()) {
    GTEST_SKIP() << "needs the v1 memory and cpu controllers (this host: "
                 << (layout ? std::string(LayoutName(layout->kind)) : layout.error().message) << ")";
  }
  RealPodCgroup pod(*layout);
  ASSERT_TRUE(WriteSysFile(pod.Dir(layout->memory_v1) + "/memory.limit_in_bytes", "704643072"));
  ASSERT_TRUE(WriteSysFile(pod.Dir(layout->cpu_v1) + "/cpu.cfs_quota_us", "175000"));
  // 8 MiB of tmpfs charged to the pod by a child that joined it.
  std::string file = "/dev/shm/uvm-inspect-test-" + std::to_string(getpid());
  struct Unlink {
    std::string path;
    ~Unlink() { unlink(path.c_str()); }
  } cleanup{file};
  std::string procs = pod.Dir(layout->memory_v1) + "/cgroup.procs";
  std::string chunk(kMiB, 's');
  pid_t pid = fork();
  if (pid == 0) {
    int p = open(procs.c_str(), O_WRONLY);
    if (p < 0 || write(p, "0", 1) != 1) _exit(10);
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    for (int i = 0; i < 8; ++i) {
      if (fd < 0 || write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) _exit(11);
    }
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  pod.Adopt(pid);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  pod.Reaped(pid);
  ASSERT_EQ(status, 0);

  auto r = RunProcess({bin_, "inspect", "--cgroup-parent", pod.cgroup_parent(), "--kubelet-cgroup-root",
                       pod.kubelet_root(), "--pod-uid", testing::kTestUid, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  // What the library reads right after, to compare the usage (which moves a little on its own).
  auto h = CgroupHandle::Open(*layout, pod.relative());
  ASSERT_TRUE(h);
  auto s = h->ReadSample();
  ASSERT_TRUE(s);

  EXPECT_EQ(j["cgroup_version"], 1);
  EXPECT_EQ(j["path"], pod.cgroup_parent());
  EXPECT_EQ(j["layout"], LayoutName(layout->kind));
  EXPECT_EQ(j["driver"], "cgroupfs");
  EXPECT_EQ(j["memory"]["limit_bytes"], 704643072);
  EXPECT_GE(j["memory"]["shmem_bytes"].get<uint64_t>(), 8 * kMiB);
  EXPECT_EQ(j["memory"]["shmem_bytes"].get<uint64_t>(), *s->shmem_bytes);
  EXPECT_GE(j["memory"]["usage_bytes"].get<uint64_t>(), 8 * kMiB);
  EXPECT_NEAR(static_cast<double>(j["memory"]["usage_bytes"].get<uint64_t>()),
              static_cast<double>(s->memory_usage_bytes), static_cast<double>(kMiB));
  EXPECT_EQ(j["memory"]["oom_kill_count"], 0);
  EXPECT_EQ(j["cpu"]["quota_us"], 175000);
  EXPECT_EQ(j["cpu"]["period_us"], 100000);
  if (!layout->unified.empty() && std::filesystem::exists(layout->unified + "/memory.pressure")) {
    ASSERT_TRUE(j["pressure"].is_object()) << "hybrid: PSI from the unified tree";
    EXPECT_TRUE(j["pressure"]["memory_some_avg10"].is_number());
    EXPECT_TRUE(j["pressure"]["memory_full_avg10"].is_number());
  } else {
    EXPECT_TRUE(j["pressure"].is_null());
  }

  auto text = RunProcess(
      {bin_, "inspect", "--cgroup-parent", pod.cgroup_parent(), "--kubelet-cgroup-root", pod.kubelet_root()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("limit 672.0 MiB (704643072)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("quota 175000 µs per 100000 µs (1.75 CPUs)"), std::string::npos) << text.out;
}

TEST_F(InspectCli, RealV1UnlimitedIsNull) {
  auto layout = DetectLayout();
  if (!layout || layout->memory_v1.empty()) GTEST_SKIP() << "needs the v1 memory controller";
  RealPodCgroup pod(*layout);
  auto r = RunProcess({bin_, "inspect", "--cgroup-parent", pod.cgroup_parent(), "--kubelet-cgroup-root",
                       pod.kubelet_root(), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_TRUE(j["memory"]["limit_bytes"].is_null());
  EXPECT_TRUE(j["cpu"]["quota_us"].is_null());
}

TEST_F(InspectCli, V2SystemdFixture) {
  std::string root = std::string(UVM_FIXTURES_DIR) + "/cgroups/v2-systemd";
  std::string sid = "4f2b8e3c1d9a7b6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
  auto r = RunProcess({bin_, "inspect", "--cgroup-root", root, "--cgroup-parent",
                       "kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice", "--sandbox-id",
                       sid, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["cgroup_version"], 2);
  EXPECT_EQ(j["layout"], "v2");
  EXPECT_EQ(j["driver"], "systemd");
  EXPECT_EQ(j["systemd_unit"], "kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice");
  EXPECT_EQ(j["path"],
            "/kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice");
  EXPECT_EQ(j["memory"]["limit_bytes"], 704643072);
  EXPECT_EQ(j["memory"]["usage_bytes"], 70254592);
  EXPECT_EQ(j["memory"]["shmem_bytes"], 4194304);
  EXPECT_EQ(j["memory"]["oom_kill_count"], 1);
  EXPECT_EQ(j["cpu"]["quota_us"], 175000);
  EXPECT_EQ(j["cpu"]["period_us"], 100000);
  EXPECT_EQ(j["pressure"]["memory_some_avg10"], 1.25);
  EXPECT_EQ(j["pressure"]["memory_full_avg10"], 0.75);
  EXPECT_TRUE(j["sandbox"]["memory"]["limit_bytes"].is_null());
  EXPECT_TRUE(j["sandbox"]["cpu"]["quota_us"].is_null());
  EXPECT_EQ(j["sandbox"]["path"], j["path"].get<std::string>() + "/cri-containerd-" + sid + ".scope");
}

TEST_F(InspectCli, HostilePathsExit2NamingTheRuleBeforeReadingAnything) {
  // --cgroup-root does not exist: getting as far as the layout would fail with exit 1 and another message.
  struct Case {
    std::string parent;
    std::string rule;
  };
  for (const Case& c : {Case{"/kubepods/burstable/pod1/../../../etc", "traversal"},
                        Case{"/etc/kubepods", "outside the kubepods subtree"},
                        Case{"/kubepods/burstable/pod" + std::string(600, 'a'), "longer than 512"},
                        Case{"kubepods-besteffort-pod0a0a.slice", "names another pod"}}) {
    auto r = RunProcess({bin_, "inspect", "--cgroup-root", "/nonexistent-uvm-cgroup-root", "--pod-uid",
                         "1c9e", "--cgroup-parent", c.parent, "-o", "json"});
    EXPECT_EQ(r.exit_code, 2) << c.parent << ": " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(c.rule), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("nonexistent-uvm-cgroup-root"), std::string::npos) << "the layout was looked at";
  }
}

TEST_F(InspectCli, MissingCgroupExits1) {
  auto r =
      RunProcess({bin_, "inspect", "--cgroup-root", std::string(UVM_FIXTURES_DIR) + "/cgroups/v2-cgroupfs",
                  "--cgroup-parent", "/kubepods/burstable/pod00000000-0000-0000-0000-000000000000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace uvm::cgroups
