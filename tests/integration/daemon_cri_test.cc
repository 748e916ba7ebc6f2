// Issue 4's acceptance, end to end: the real `uvm-sizer daemon` binary, a private containerd 1.6 + runc
// with handlers kata, kata-cc and runc, pods created the way the kubelet creates them, the real cgroup tree.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kubelet-plugin/api/api_server.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/subprocess.h"

namespace uvm::testing {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kMib = 1 << 20;

// The kata-cc pod of CRI.md §4.3: limits 1.5 CPU / 512 MiB, declared overhead 250m / 160 MiB.
PodOptions KataCcPod(const std::string& name) {
  return {.name = name,
          .handler = "kata-cc",
          .resources = cri::LinuxResources{100000, 150000, 1536, 512 * kMib},
          .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}};
}

// The pod cgroup directory of a controller ("memory", "cpu") the fixture made, or "" (v2: the only dir).
std::string PodDir(const Pod& pod, const std::string& controller) {
  for (const auto& d : pod.pod_cgroup_dirs) {
    if (d.find("/sys/fs/cgroup/" + controller + "/") == 0) return d;
  }
  for (const auto& d : pod.pod_cgroup_dirs) {
    if (d.find("/unified/") == std::string::npos) return d;  // pure v2
  }
  return "";
}

std::optional<int64_t> ReadNumber(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  if (text == "max") return std::nullopt;
  return std::stoll(text);
}

std::optional<int64_t> MemoryLimit(const Pod& pod) {
  std::string dir = PodDir(pod, "memory");
  auto v1 = ReadNumber(dir + "/memory.limit_in_bytes");
  return v1 ? v1 : ReadNumber(dir + "/memory.max");
}

std::optional<int64_t> CpuQuota(const Pod& pod) {
  return ReadNumber(PodDir(pod, "cpu") + "/cpu.cfs_quota_us");
}

class DaemonCri : public ContainerdTest {
 protected:
  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& mode) {
    auto d = DaemonProcess::Start({.cri_endpoint = containerd().endpoint(),
                                   .mode = mode,
                                   .kubelet_cgroup_root = containerd().kubelet_cgroup_root()});
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? std::move(*d) : nullptr;
  }
  static std::map<std::string, std::string> Uid(const Pod& pod) { return {{"uid", pod.uid}}; }
};

TEST_F(DaemonCri, MetricsShowTheRightSizingWithinThreeSecondsOfRunPodSandbox) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, milliseconds(5000)))
      << daemon->Log();
  auto created = std::chrono::steady_clock::now();
  auto pod = containerd().CreatePod(KataCcPod("sized"));
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  bool seen = DaemonProcess::WaitFor(
      [&] { return daemon->Value("uvm_sizer_pod_uvm_memory_bytes", Uid(*pod)).has_value(); },
      milliseconds(3000));
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - created);
  ASSERT_TRUE(seen) << "no series 3 s after RunPodSandbox\n" << daemon->Log();
  std::cout << "[ measure  ] RunPodSandbox -> uvm_sizer_pod_uvm_memory_bytes: " << took.count() << " ms\n";
  // aks-kata-cc-2048: 2048 MiB + 512 MiB; ceil(1 + 1.5) vCPUs.
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_uvm_memory_bytes", Uid(*pod)), 2560.0 * kMib);
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_uvm_vcpus", Uid(*pod)), 3.0);
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_overhead_declared_bytes", Uid(*pod)), 160.0 * kMib);
  auto host = daemon->Value("uvm_sizer_pod_host_memory_bytes", Uid(*pod));
  ASSERT_TRUE(host);
  EXPECT_GT(*host, 2560.0 * kMib);
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_overhead_required_bytes", Uid(*pod)), *host - 512.0 * kMib);
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_cgroup_memory_limit_bytes", Uid(*pod)), 672.0 * kMib);
  EXPECT_TRUE(daemon->Value("uvm_sizer_pod_cgroup_memory_usage_bytes", Uid(*pod)).has_value());
  EXPECT_NE(daemon->Log().find("declared overhead"), std::string::npos);

  // The pod goes: its series go.
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return !daemon->Value("uvm_sizer_pod_uvm_memory_bytes", Uid(*pod)).has_value(); },
      milliseconds(5000)))
      << daemon->Log();
  EXPECT_FALSE(daemon->Value("uvm_sizer_pod_cgroup_memory_usage_bytes", Uid(*pod)).has_value());
}

TEST_F(DaemonCri, ObserveModeLeavesAShortPodCgroupAlone) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  auto pod = containerd().CreatePod(KataCcPod("observed"));
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Value("uvm_sizer_pod_uvm_memory_bytes", Uid(*pod)).has_value(); },
      milliseconds(3000)));
  std::this_thread::sleep_for(milliseconds(1500));  // a few more reconcile rounds
  EXPECT_EQ(MemoryLimit(*pod), 672 * kMib);
  EXPECT_EQ(CpuQuota(*pod), 175000);
  EXPECT_EQ(daemon->Value("uvm_sizer_cgroup_writes_total", {{"result", "ok"}}), 0.0);
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
}

TEST_F(DaemonCri, EnforceRaisesAShortKataCcPodOnceNeverARuncPodAndNothingTwiceAfterSigkill) {
  auto daemon = StartDaemon("enforce");
  ASSERT_TRUE(daemon);
  auto vm = containerd().CreatePod(KataCcPod("enforced"));
  ASSERT_TRUE(vm.ok()) << vm.error().message;
  auto runc = containerd().CreatePod({.name = "plain",
                                      .handler = "runc",
                                      .resources = cri::LinuxResources{100000, 50000, 512, 64 * kMib},
                                      .overhead = std::nullopt});
  ASSERT_TRUE(runc.ok()) << runc.error().message;

  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] {
        return daemon->Value("uvm_sizer_cgroup_writes_total", {{"result", "ok"}}) >= 2.0;
      },
      milliseconds(5000)))
      << daemon->Log();
  auto host = daemon->Value("uvm_sizer_pod_host_memory_bytes", Uid(*vm));
  ASSERT_TRUE(host);
  auto limit = MemoryLimit(*vm);
  ASSERT_TRUE(limit);
  // The kernel keeps limits in pages: raised to the host need, rounded up to a page.
  EXPECT_GE(*limit, static_cast<int64_t>(*host));
  EXPECT_LT(*limit, static_cast<int64_t>(*host) + 4096);
  EXPECT_EQ(CpuQuota(*vm), 300000);  // 3 vCPUs x 100 ms
  EXPECT_NE(daemon->Log().find("raised memory limit"), std::string::npos);

  // The runc pod is not VM-isolated: untouched, and no UVM series.
  EXPECT_EQ(MemoryLimit(*runc), 64 * kMib);
  EXPECT_EQ(CpuQuota(*runc), 50000);
  EXPECT_FALSE(daemon->Value("uvm_sizer_pod_uvm_vcpus", Uid(*runc)).has_value());
  // Seen (its cgroup usage is a series) once a listing has it: it may come a round after the VM pod.
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Value("uvm_sizer_pod_cgroup_memory_usage_bytes", Uid(*runc)).has_value(); },
      milliseconds(3000)))
      << daemon->Log();
  EXPECT_EQ(MemoryLimit(*runc), 64 * kMib);
  EXPECT_EQ(CpuQuota(*runc), 50000);

  // SIGKILL and restart: the same state, rebuilt from the runtime and the cgroup tree, and no second write.
  double before = *daemon->Value("uvm_sizer_pod_host_memory_bytes", Uid(*vm));
  ASSERT_TRUE(daemon->KillAndRestart().ok()) << daemon->Log();
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Value("uvm_sizer_pod_host_memory_bytes", Uid(*vm)).has_value(); },
      milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_host_memory_bytes", Uid(*vm)), before);
  EXPECT_EQ(daemon->Value("uvm_sizer_cgroup_writes_total", {{"result", "ok"}}), 0.0) << daemon->Log();
  EXPECT_EQ(MemoryLimit(*vm), limit);

  // status over the API shows the pod as applied.
  auto status = RunProcess({UVM_SIZER_BIN, "status", "--socket", daemon->api_socket(), "-o", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto j = nlohmann::json::parse(status.out);
  bool found = false;
  for (const auto& p : j["pods"]) {
    if (p["uid"] == vm->uid) {
      found = true;
      EXPECT_EQ(p["phase"], "applied");
      EXPECT_EQ(p["uvm"]["vcpus"], 3);
    }
  }
  EXPECT_TRUE(found) << status.out;
  ASSERT_TRUE(containerd().RemovePod(*vm).ok());
  ASSERT_TRUE(containerd().RemovePod(*runc).ok());
}

TEST_F(DaemonCri, ContainerdRestartTurnsCriUpToZeroAndBackWithoutADaemonRestart) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, milliseconds(5000)));
  pid_t pid = daemon->pid();
  ASSERT_TRUE(containerd().StopContainerd().ok());
  EXPECT_TRUE(
      DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 0.0; }, milliseconds(5000)))
      << daemon->Log();
  ASSERT_TRUE(containerd().StartContainerd().ok());
  EXPECT_TRUE(
      DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, milliseconds(10000)))
      << daemon->Log();
  EXPECT_EQ(daemon->pid(), pid);
  EXPECT_NE(daemon->Log().find("waiting for the runtime"), std::string::npos);
}

TEST_F(DaemonCri, ABadConfigOnSighupKeepsTheOldOneAndSigtermStopsWithinTwoSeconds) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  std::string good;
  {
    std::ifstream in(daemon->config_path());
    std::stringstream s;
    s << in.rdbuf();
    good = s.str();
  }
  std::ofstream(daemon->config_path(), std::ios::app) << "\n[cgroups_typo]\nmode = \"enforce\"\n";
  daemon->Signal(SIGHUP);
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Log().find("new configuration refused") != std::string::npos; },
      milliseconds(3000)))
      << daemon->Log();
  EXPECT_NE(daemon->Log().find("cgroups_typo: unknown key"), std::string::npos) << daemon->Log();
  auto view = api::FetchStatus(daemon->api_socket(), milliseconds(2000));
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->cgroup_mode, "observe");
  EXPECT_EQ(daemon->Value("uvm_sizer_errors_total", {{"cause", "config_reload"}}), 1.0);

  // A good change is taken.
  std::string enforce = good;
  enforce.replace(enforce.find("mode = \"observe\""), 16, "mode = \"enforce\"");
  std::ofstream(daemon->config_path(), std::ios::trunc) << enforce;
  daemon->Signal(SIGHUP);
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] {
        auto v = api::FetchStatus(daemon->api_socket(), milliseconds(1000));
        return v.ok() && v->cgroup_mode == "enforce";
      },
      milliseconds(3000)))
      << daemon->Log();

  auto start = std::chrono::steady_clock::now();
  daemon->Signal(SIGTERM);
  auto status = daemon->WaitExit(milliseconds(5000));
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(status) << "still running 5 s after SIGTERM";
  EXPECT_EQ(*status, 0);
  EXPECT_LT(took.count(), 2000) << "SIGTERM took " << took.count() << " ms";
  std::cout << "[ measure  ] SIGTERM -> exit: " << took.count() << " ms\n";
}

TEST_F(DaemonCri, WatchPodsStreamsAddedAndRemovedPodsAndWatchPressureTheirLevels) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  // Metrics come up before the API socket: watch only once the API answers.
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return api::FetchStatus(daemon->api_socket(), milliseconds(500)).ok(); }, milliseconds(3000)));
  // The stream's callback runs on the watcher thread: `events` and `watched_uid` are shared with it.
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> events;  // (type, uid); guarded by mu
  std::string watched_uid;                                  // empty until the pod exists; guarded by mu
  std::thread watcher([&] {
    auto st = api::WatchPods(daemon->api_socket(), milliseconds(10000),
                             [&](const std::string& type, const api::PodView& p) {
                               std::lock_guard lock(mu);
                               events.emplace_back(type, p.uid);
                               return !(type == "REMOVED" && !watched_uid.empty() && p.uid == watched_uid);
                             });
    EXPECT_TRUE(st.ok()) << st.error().message;
  });
  // Joins on every way out, a failed ASSERT included (a joinable std::thread would terminate the run); the
  // stream ends at its 10 s deadline at the latest.
  struct JoinOnExit {
    std::thread& thread;
    ~JoinOnExit() {
      if (thread.joinable()) thread.join();
    }
  } join_watcher{watcher};
  std::this_thread::sleep_for(milliseconds(300));
  auto created = containerd().CreatePod(KataCcPod("watched"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  const Pod pod = *created;
  {
    std::lock_guard lock(mu);
    watched_uid = pod.uid;
  }
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Value("uvm_sizer_pod_uvm_vcpus", Uid(pod)).has_value(); }, milliseconds(3000)));
  // The pressure stream starts with the current level of every VM pod, and sends each change after it. The
  // API's placeholder before the first assessment is "unknown": wait past it for a real verdict.
  const std::set<std::string> verdicts = {"ok", "warning", "critical"};
  std::string level;
  auto pst = api::WatchPressure(daemon->api_socket(), milliseconds(5000),
                                [&](const api::PodView& p, const std::string&) {
                                  if (p.uid != pod.uid) return true;
                                  level = p.pressure_level;
                                  return !verdicts.contains(level);
                                });
  EXPECT_TRUE(pst.ok()) << pst.error().message;
  EXPECT_TRUE(verdicts.contains(level)) << "last pressure level seen: '" << level << "'";
  ASSERT_TRUE(containerd().RemovePod(pod).ok());
  watcher.join();
  auto seen = [&](const std::string& type) {
    return std::any_of(events.begin(), events.end(),
                       [&](const auto& e) { return e.first == type && e.second == pod.uid; });
  };
  EXPECT_TRUE(seen("ADDED"));
  EXPECT_TRUE(seen("REMOVED"));
}

TEST_F(DaemonCri, RemappingARunningPodsHandlerToNoneOnSighupDropsEveryVmSeriesAtOnce) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  auto created = containerd().CreatePod(KataCcPod("remapped"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  const Pod pod = *created;
  const std::vector<std::string> vm_families = {"uvm_sizer_pod_uvm_vcpus",
                                                "uvm_sizer_pod_uvm_memory_bytes",
                                                "uvm_sizer_pod_host_memory_bytes",
                                                "uvm_sizer_pod_overhead_required_bytes",
                                                "uvm_sizer_pod_overhead_declared_bytes",
                                                "uvm_sizer_pod_pressure_level",
                                                "uvm_sizer_pod_oom_kills_total"};
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] {
        return std::all_of(vm_families.begin(), vm_families.end(),
                           [&](const std::string& f) { return daemon->Value(f, Uid(pod)).has_value(); });
      },
      milliseconds(5000)))
      << daemon->Log();

  std::ofstream(daemon->config_path(), std::ios::app) << "\n[handlers]\nkata-cc = \"none\"\n";
  daemon->Signal(SIGHUP);
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Log().find("SIGHUP: configuration reloaded") != std::string::npos; },
      milliseconds(3000)))
      << daemon->Log();
  EXPECT_NE(daemon->Log().find("handlers.kata-cc"), std::string::npos) << "the journal names the changed key";
  // The reload applied to the running pod at once: no pressure tick (5 s) needed.
  auto scrape = daemon->Scrape();
  ASSERT_TRUE(scrape.ok()) << scrape.error().message;
  std::istringstream lines(*scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("uid=\"" + pod.uid + "\"") == std::string::npos) continue;
    for (const auto& f : vm_families) EXPECT_FALSE(line.starts_with(f + "{")) << "still exported: " << line;
  }
  // Its cgroup is still read like any pod's.
  EXPECT_TRUE(daemon->Value("uvm_sizer_pod_cgroup_memory_usage_bytes", Uid(pod)).has_value());
  auto view = api::FetchStatus(daemon->api_socket(), milliseconds(2000));
  ASSERT_TRUE(view.ok()) << view.error().message;
  auto it =
      std::find_if(view->pods.begin(), view->pods.end(), [&](const auto& p) { return p.uid == pod.uid; });
  ASSERT_NE(it, view->pods.end());
  EXPECT_FALSE(it->profile.has_value()) << "uvm-sizer status shows it as not VM-isolated";
  ASSERT_TRUE(containerd().RemovePod(pod).ok());
}

TEST_F(DaemonCri, SizePodOverTheApiUsesTheDaemonsProfiles) {
  auto daemon = StartDaemon("observe");
  ASSERT_TRUE(daemon);
  api::SizeRequest req{.resources = std::array<int64_t, 4>{100000, 50000, 512, 512 * kMib},
                       .handler = "kata"};
  auto r = api::CallSizePod(daemon->api_socket(), req, milliseconds(2000));
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto j = nlohmann::json::parse(r->result_json);
  EXPECT_EQ(j["pods"][0]["profile"], "aks-kata-256");
  EXPECT_EQ(j["pods"][0]["uvm"]["memory_mib"], 768);
  api::SizeRequest manifest{
      .manifest_yaml =
          std::string("kind: Pod\nmetadata: {name: x}\nspec:\n  runtimeClassName: kata-cc-isolation\n"
                      "  containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}]\n")};
  auto m = api::CallSizePod(daemon->api_socket(), manifest, milliseconds(2000));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(nlohmann::json::parse(m->result_json)["pods"][0]["uvm"]["memory_mib"], 3072);
  api::SizeRequest bad{.manifest_yaml =
                           std::string("kind: Pod\nspec: {containers: [{name: a, resources: {limits: "
                                       "{memory: 1.5.5Gi}}}]}\n")};
  auto e = api::CallSizePod(daemon->api_socket(), bad, milliseconds(2000));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("1.5.5Gi"), std::string::npos);
}

}  // namespace
}  // namespace uvm::testing
