// A private containerd 1.6 for integration tests, and pods created the way the kubelet creates them.
//
// What you get
//   - containerd started by tests/integration/harness/containerd.sh in a fresh temp dir
//     (/tmp/uvmtest-ctrd.XXXXXX): its own root, state, socket, runc root; the system containerd (if any)
//     is never touched. Handlers "kata", "kata-cc" and "runc" are all runc underneath.
//   - a sandbox image built from our own pause.c (kPauseImage); `/pause --hog MIB` holds MIB of memory.
//   - a unique cgroup top "uvmtest-<pid>": the kubelet cgroup root of every pod this fixture makes is
//     "/uvmtest-<pid>", so pod cgroups are /uvmtest-<pid>/kubepods/burstable/pod<uid> (the kubelet's
//     cgroupfs layout under --cgroup-root=/uvmtest-<pid>), in every v1 hierarchy (hybrid/v1 hosts) or
//     in the v2 tree.
//   - cleanup that always happens: TearDownTestSuite runs `containerd.sh cleanup` (stop containerd, kill
//     our shims and every process in our cgroups, unmount, remove our cgroups, rm -rf the dir); and a
//     watcher process started with the fixture does the same if the test binary dies without it (crash,
//     SIGKILL, ctest timeout).
//
// Use it (one containerd per test binary; tests that create pods must use unique pod names/uids, which
// CreatePod does for you):
//
//   class MyTest : public uvm::testing::ContainerdTest {};
//   TEST_F(MyTest, Something) {
//     auto& ctrd = containerd();                      // PrivateContainerd&
//     auto pod = ctrd.CreatePod({.name = "vm", .handler = "kata-cc",
//                                .resources = uvm::cri::LinuxResources{100000, 150000, 1536, 512 << 20},
//                                .overhead = uvm::cri::LinuxResources{100000, 25000, 256, 160 << 20}});
//     ASSERT_TRUE(pod.ok()) << pod.error().message;
//     // ctrd.endpoint() is "unix:///tmp/uvmtest-ctrd.XXXXXX/containerd.sock": give it to the daemon.
//     // pod->pod_cgroup_dirs lists the pod cgroup directories the fixture made (and limited).
//     ASSERT_TRUE(ctrd.RemovePod(*pod).ok());          // optional: TearDown removes everything anyway
//   }
//
// Requirements: root, Debian packages containerd runc gcc libc6-dev (static libc for pause), tar,
// coreutils. Missing ones make SetUpTestSuite fail every test with a message naming what is missing.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/result.h"
#include "kubelet-plugin/cri_client.h"
#include "kubelet-plugin/types.h"

namespace uvm::testing {

inline constexpr const char* kPauseImage = "registry.local/uvm-sizer-test/pause:1.0";

struct PodOptions {
  std::string name;  // made unique: "<name>-<8 hex of the uid>"
  std::string namespace_ = "default";
  std::string handler;  // "kata", "kata-cc", "runc" or "" (containerd's default, runc)
  // What the kubelet sends as LinuxPodSandboxConfig.resources (Σ container limits) and .overhead
  // (RuntimeClass overhead.podFixed). nullopt = not sent.
  std::optional<cri::LinuxResources> resources;
  std::optional<cri::LinuxResources> overhead;
  // "burstable" (default), "besteffort" or "" (guaranteed: directly under kubepods).
  std::string qos = "burstable";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Create (and limit) the pod cgroup first, as the kubelet does. false: leave it to runc (which creates
  // the path without limits) — for "what if the kubelet's cgroup is missing" tests.
  bool create_pod_cgroup = true;
};

struct Pod {
  std::string sandbox_id;
  std::string uid;
  std::string cgroup_parent;  // as sent in RunPodSandbox, e.g. /uvmtest-42/kubepods/burstable/pod<uid>
  std::vector<std::string>
      pod_cgroup_dirs;  // absolute dirs the fixture created, e.g. /sys/fs/cgroup/memory/...
  std::optional<int64_t>
      memory_limit_bytes;               // what the fixture wrote (Σlimits + overhead), nullopt = unlimited
  std::optional<int64_t> cpu_quota_us;  // likewise, with period 100000
  cri::PodSandboxSpec spec;             // what RunPodSandbox got (CreateContainer needs it again)
  std::vector<std::string> container_ids;
};

// One private containerd. Thread-compatible (not thread-safe).
class PrivateContainerd {
 public:
  // Builds the image, renders the config, starts containerd and the crash watcher, imports the image.
  static Result<std::unique_ptr<PrivateContainerd>> Start();
  ~PrivateContainerd();  // Cleanup()
  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;

  const std::string& base_dir() const { return base_; }
  std::string socket_path() const { return base_ + "/containerd.sock"; }
  std::string endpoint() const { return "unix://" + socket_path(); }
  std::string log_path() const { return base_ + "/containerd.log"; }
  const std::string& cgroup_top() const { return top_; }          // "uvmtest-<pid>"
  std::string kubelet_cgroup_root() const { return "/" + top_; }  // "/uvmtest-<pid>"
  // A CRI client on this containerd (2 s call deadline), shared by the helpers below.
  cri::CriClient& cri() { return *client_; }

  // SIGTERM containerd only (shims and pods keep running), then start it again: for restart tests.
  Status StopContainerd();
  Status StartContainerd();

  // The kubelet's order: pod cgroup (with the kubelet's pod-level limits: memory Σlimits + overhead, CFS
  // quota Σquota + overhead quota over period 100000, shares Σ + overhead) in every hierarchy, then
  // RunPodSandbox with hostNetwork (NamespaceMode NODE), empty hostname, cgroup_parent, linux.resources,
  // linux.overhead and the handler.
  Result<Pod> CreatePod(const PodOptions& options);
  // CreateContainer + StartContainer with `/pause [args]` from the pause image; `limit` becomes the
  // container's LinuxContainerResources. Returns the container id (also appended to pod.container_ids).
  Result<std::string> StartContainer(Pod& pod, const std::string& name,
                                     const std::vector<std::string>& args = {},
                                     std::optional<cri::LinuxResources> limit = std::nullopt);
  // StopPodSandbox + RemovePodSandbox, then the pod cgroups.
  Status RemovePod(const Pod& pod);

  // Idempotent; runs `containerd.sh cleanup` and stops the watcher.
  void Cleanup();

 private:
  PrivateContainerd(std::string base, std::string top) : base_(std::move(base)), top_(std::move(top)) {}
  Status Script(const std::vector<std::string>& args);

  std::string base_;
  std::string top_;
  std::unique_ptr<cri::CriClient> client_;
  int watcher_pid_ = -1;
  bool cleaned_ = false;
  std::vector<Pod> pods_;  // created and not yet removed (removed again by Cleanup's script anyway)
};

// GoogleTest base: one PrivateContainerd per test suite, started in SetUpTestSuite, cleaned up in
// TearDownTestSuite. A failed start fails every test of the suite (with the script's output).
class ContainerdTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  void SetUp() override;
  static PrivateContainerd& containerd() { return *instance_; }

 private:
  static inline std::unique_ptr<PrivateContainerd> instance_;
  static inline std::string start_error_;
};

}  // namespace uvm::testing
