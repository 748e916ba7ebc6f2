// Issue 11's acceptance for the daemon's startup profile, end to end: the real `uvm-sizer daemon` against a
// private containerd 1.6 + runc (handlers runc, kata, kata-cc), pods started the way the kubelet starts
// them (sandbox, then a container), and /metrics: uvm_sizer_sandbox_start_seconds counts each started
// sandbox once, under its handler and UVM memory bucket, never a sandbox whose container did not start,
// never again after more polls and resyncs, and nothing a restarted daemon found already there.
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "guest/exposition.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"

namespace uvm::testing {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kMib = 1 << 20;
constexpr const char* kCount = "uvm_sizer_sandbox_start_seconds_count";

// A pod of 1.5 CPUs / 512 MiB limits with a declared overhead of 250m / 160 MiB, as the kubelet sends it.
PodOptions PodFor(const std::string& name, const std::string& handler) {
  return {.name = name,
          .handler = handler,
          .resources = cri::LinuxResources{100000, 150000, 1536, 512 * kMib},
          .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}};
}

// Σ of `metric` over every series whose labels include `labels` (all memory buckets of a handler, say).
double Sum(const DaemonProcess& daemon, const std::string& metric,
           const std::map<std::string, std::string>& labels) {
  auto body = daemon.Scrape();
  if (!body) return -1;
  auto parsed = guest::ParseExpositionText(*body, "/metrics");
  if (!parsed) return -1;
  double total = 0;
  for (const auto& s : parsed->samples) {
    if (s.name != metric) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      const std::string* got = s.FindLabel(k);
      if (!got || *got != v) match = false;
    }
    if (match) total += s.value;
  }
  return total;
}

// Every uvm-sizer series carries node="<node>".
bool EveryCountHasANode(const DaemonProcess& daemon) {
  auto body = daemon.Scrape();
  if (!body) return false;
  auto parsed = guest::ParseExpositionText(*body, "/metrics");
  if (!parsed) return false;
  int n = 0;
  for (const auto& s : parsed->samples) {
    if (s.name != kCount) continue;
    const std::string* node = s.FindLabel("node");
    if (!node || node->empty()) return false;
    ++n;
  }
  return n > 0;
}

class DaemonStartup : public ContainerdTest {
 protected:
  std::unique_ptr<DaemonProcess> StartDaemon() {
    auto d = DaemonProcess::Start({.cri_endpoint = containerd().endpoint(),
                                   .mode = "observe",
                                   .kubelet_cgroup_root = containerd().kubelet_cgroup_root()});
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? std::move(*d) : nullptr;
  }
  // Created and its first container started, as the kubelet does.
  Pod Started(const std::string& name, const std::string& handler) {
    auto pod = containerd().CreatePod(PodFor(name, handler));
    EXPECT_TRUE(pod.ok()) << (pod.ok() ? "" : pod.error().message);
    if (!pod.ok()) return {};
    auto c = containerd().StartContainer(*pod, "app");
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return *pod;
  }
  static double Count(const DaemonProcess& d, const std::string& handler) {
    return Sum(d, kCount, {{"runtime_handler", handler}});
  }
  // The daemon has sized (so listed and inspected) the pod: it knows the sandbox exists.
  static bool Seen(const DaemonProcess& d, const Pod& pod) {
    return d.Value("uvm_sizer_pod_cgroup_memory_usage_bytes", {{"uid", pod.uid}}).has_value();
  }
};

TEST_F(DaemonStartup, CountsEachStartedSandboxOnceWithItsHandlerAndNothingFromBeforeARestart) {
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, milliseconds(5000)))
      << daemon->Log();

  std::vector<Pod> pods;
  pods.push_back(Started("start-runc", "runc"));
  pods.push_back(Started("start-kata-a", "kata"));
  pods.push_back(Started("start-kata-b", "kata"));
  pods.push_back(Started("start-kata-cc", "kata-cc"));
  ASSERT_FALSE(HasFailure());
  // A sandbox whose container never starts (here: none is created) is not a start.
  auto idle = containerd().CreatePod(PodFor("start-idle", "kata"));
  ASSERT_TRUE(idle.ok()) << idle.error().message;

  const std::map<std::string, double> expected{{"runc", 1}, {"kata", 2}, {"kata-cc", 1}};
  auto all_counted = [&] {
    for (const auto& [handler, n] : expected) {
      if (Count(*daemon, handler) != n) return false;
    }
    return true;
  };
  ASSERT_TRUE(DaemonProcess::WaitFor(all_counted, milliseconds(15000)))
      << "runc " << Count(*daemon, "runc") << ", kata " << Count(*daemon, "kata") << ", kata-cc "
      << Count(*daemon, "kata-cc") << "\n"
      << daemon->Log();
  ASSERT_TRUE(DaemonProcess::WaitFor([&] { return Seen(*daemon, *idle); }, milliseconds(5000)));
  // The UVM memory buckets: runc is not VM-isolated; kata-cc's UVM is 2 GiB + 512 MiB of limits.
  EXPECT_EQ(daemon->Value(kCount, {{"runtime_handler", "runc"}, {"uvm_memory_bucket", "none"}}), 1.0);
  EXPECT_EQ(daemon->Value(kCount, {{"runtime_handler", "kata-cc"}, {"uvm_memory_bucket", "<=4Gi"}}), 1.0);
  EXPECT_FALSE(daemon->Value(kCount, {{"runtime_handler", "kata"}, {"uvm_memory_bucket", "none"}}));
  EXPECT_TRUE(EveryCountHasANode(*daemon));
  // Every started sandbox, and nothing else, in the histogram's total.
  EXPECT_EQ(Sum(*daemon, kCount, {}), 4.0);
  // The values are real spans: above 0 (a sandbox, then a container), far below the last bucket.
  double sum = Sum(*daemon, "uvm_sizer_sandbox_start_seconds_sum", {});
  EXPECT_GT(sum, 0.0);
  EXPECT_LT(sum, 4 * 120.0);
  EXPECT_EQ(Sum(*daemon, "uvm_sizer_sandbox_start_skipped_total", {}), 0.0) << daemon->Log();

  // More polls, and a full resync (resync_interval 5 s), count nothing again.
  std::this_thread::sleep_for(milliseconds(6000));
  for (const auto& [handler, n] : expected) EXPECT_EQ(Count(*daemon, handler), n) << handler;
  EXPECT_EQ(Sum(*daemon, kCount, {}), 4.0);

  // A restarted daemon finds them all running: it counts none of them, nor the idle pod whose container
  // starts after the restart (its sandbox was created before), but counts a pod started afterwards.
  ASSERT_TRUE(daemon->KillAndRestart().ok());
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, milliseconds(10000)))
      << daemon->Log();
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] {
        for (const auto& p : pods) {
          if (!Seen(*daemon, p)) return false;
        }
        return Seen(*daemon, *idle);
      },
      milliseconds(10000)))
      << daemon->Log();
  auto late = containerd().StartContainer(*idle, "app");
  ASSERT_TRUE(late.ok()) << late.error().message;
  Pod after = Started("start-after", "runc");
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(DaemonProcess::WaitFor([&] { return Count(*daemon, "runc") == 1.0; }, milliseconds(15000)))
      << daemon->Log();
  // The listing that showed the new pod's container started also showed the idle pod's (it started first).
  EXPECT_EQ(Count(*daemon, "kata"), 0.0);
  EXPECT_EQ(Count(*daemon, "kata-cc"), 0.0);
  EXPECT_EQ(Sum(*daemon, kCount, {}), 1.0);

  for (const auto& p : pods) EXPECT_TRUE(containerd().RemovePod(p).ok());
  EXPECT_TRUE(containerd().RemovePod(*idle).ok());
  EXPECT_TRUE(containerd().RemovePod(after).ok());
}

}  // namespace
}  // namespace uvm::testing
