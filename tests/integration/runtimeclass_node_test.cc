// `uvm-sizer runtimeclass --from-node` against the real `uvm-sizer daemon` binary. The daemon runs on the
// shared fake CRI runtime (tests/support/fake_cri.h) and a cgroup v2 tree of regular files in a temp dir
// (the pods' memory.current set by the test), and reads each VM pod's guest memory from a Kata shim monitor
// socket served by the test: there is no Kata on this machine, so the shim's metrics endpoint is the one
// thing faked (it serves what kata-monitor's /metrics serves, kata_guest_meminfo). The daemon measures each
// pod's VMM overhead as pod cgroup usage − guest memory in use; the CLI must recommend from those numbers
// exactly as the pure recommender does, and fall back to the model, saying so, when nothing is measured.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "kubelet-plugin/api/api_server.h"
#include "sizer/recommend.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/fake_cri.h"
#include "tests/support/subprocess.h"

namespace uvm::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr int64_t kMib = 1 << 20;

// Kata shim monitor endpoints (HTTP/1.1 over a unix socket, GET /metrics) for several sandboxes, served by
// one thread of the test; each answers the guest memory it was given.
class FakeShimMonitors {
 public:
  ~FakeShimMonitors() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, body] : listeners_) ::close(fd);
  }

  // Serves `dir`/<sandbox_id>/shim-monitor.sock with guest MemTotal and MemAvailable.
  Status Add(const std::string& dir, const std::string& sandbox_id, int64_t mem_total,
             int64_t mem_available) {
    std::string path = dir + "/" + sandbox_id + "/shim-monitor.sock";
    fs::create_directories(fs::path(path).parent_path());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return Error{fmt::format("{}: path too long", path)};
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 16) != 0) {
      if (fd >= 0) ::close(fd);
      return Error{fmt::format("{}: {}", path, std::strerror(errno))};
    }
    std::string body = fmt::format(
        "# HELP kata_guest_meminfo Statistics about memory usage in the system.\n"
        "# TYPE kata_guest_meminfo gauge\n"
        "kata_guest_meminfo{{item=\"mem_total\"}} {}\n"
        "kata_guest_meminfo{{item=\"mem_free\"}} {}\n"
        "kata_guest_meminfo{{item=\"mem_available\"}} {}\n",
        mem_total, mem_available / 2, mem_available);
    std::lock_guard lock(mu_);
    listeners_.emplace_back(fd, std::move(body));
    return {};
  }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

 private:
  void Loop() {
    while (!stop_) {
      std::vector<pollfd> fds;
      std::vector<std::string> bodies;
      {
        std::lock_guard lock(mu_);
        for (const auto& [fd, body] : listeners_) {
          fds.push_back({fd, POLLIN, 0});
          bodies.push_back(body);
        }
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        int c = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        Answer(c, bodies[i]);
        ::close(c);
      }
    }
  }

  // Reads the request head (bounded: 1 s, 16 KiB) and answers 200 with the body.
  static void Answer(int c, const std::string& body) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) return;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    std::string response = fmt::format(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: "
        "close\r\n\r\n{}",
        body.size(), body);
    size_t sent = 0;
    while (sent < response.size()) {
      ssize_t n = ::write(c, response.data() + sent, response.size() - sent);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  std::mutex mu_;
  std::vector<std::pair<int, std::string>> listeners_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The samples the CLI must take from these pods (as `--from-node` reads ListPods).
std::vector<sizer::OverheadSample> SamplesOf(const std::vector<api::PodView>& pods) {
  std::vector<sizer::OverheadSample> out;
  for (const auto& p : pods) {
    if (p.runtime_handler != "kata-cc" || !p.profile || !p.memory_mib || !p.host_overhead_measured_bytes)
      continue;
    out.push_back({.handler = "kata-cc",
                   .uvm_memory_mib = static_cast<double>(*p.memory_mib),
                   .host_overhead_bytes = static_cast<double>(*p.host_overhead_measured_bytes),
                   .pod_uid = p.uid});
  }
  return out;
}

// A pod of the data set: the guest memory in use and the VMM overhead the test decides on.
struct Planned {
  FakeSandbox sandbox;
  bool shim = true;  // false: no shim monitor socket, so the daemon cannot measure the pod
  int64_t guest_used = 0, vmm_overhead = 0;
};

ProcessResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), {UVM_SIZER_BIN, "runtimeclass", "--handler", "kata-cc"});
  return RunProcess(args);
}

class RuntimeClassFromNode : public ::testing::Test {
 protected:
  // Ten kata-cc pods of the fake CRI (UVMs 2304..4096 MiB for 0..7, 4352 and 4608 MiB for 8 and 9) and,
  // with `shims`, guest memory from a shim for all but the last two of them.
  void StartNode(bool shims) {
    ASSERT_TRUE(dir_.ok());
    cgroup_root_ = dir_ / "cg";
    const fs::path fixture = fs::path(UVM_FIXTURES_DIR) / "cgroups/v2-cgroupfs";
    const fs::path fixture_pod = fixture / "kubepods/burstable/pod1c9e5a7e-3f1b-4a3e-9a57-2a8c0d3e4f51";
    std::error_code ec;
    fs::create_directories(cgroup_root_, ec);
    for (const char* f : {"cgroup.controllers", "cgroup.procs"})
      fs::copy_file(fixture / f, fs::path(cgroup_root_) / f, ec);
    ASSERT_FALSE(ec) << ec.message();
    auto sandboxes = MakeFakeSandboxes(12, true);
    auto cgroups = FakePodCgroups(12);
    for (size_t i = 0; i < sandboxes.size(); ++i) {
      Planned p{.sandbox = sandboxes[i],
                .shim = shims && i < 10,
                .guest_used = static_cast<int64_t>(700 + 40 * i) * kMib,
                .vmm_overhead = static_cast<int64_t>(90 + 7 * i) * kMib + 4096 * static_cast<int64_t>(i)};
      fs::path d = fs::path(cgroup_root_ + cgroups[i].cgroup_parent);
      fs::create_directories(d);
      for (const auto& e : fs::directory_iterator(fixture_pod))
        if (e.is_regular_file()) fs::copy_file(e.path(), d / e.path().filename(), ec);
      std::ofstream(d / "memory.max", std::ios::trunc) << cgroups[i].memory_limit_bytes << "\n";
      std::ofstream(d / "memory.current", std::ios::trunc) << p.guest_used + p.vmm_overhead << "\n";
      std::ofstream(d / "cpu.max", std::ios::trunc) << cgroups[i].cpu_quota_us << " 100000\n";
      planned_.push_back(p);
    }
    auto cri = FakeCriServer::Start(dir_ / "cri.sock");
    ASSERT_TRUE(cri.ok()) << cri.error().message;
    cri_ = std::move(*cri);
    cri_->Upsert(sandboxes);
    // The guest's MemTotal is the UVM's memory less what its kernel keeps (~110 MiB, SIZING.md §5); only
    // total − available (in use) matters to the measurement.
    for (const auto& p : planned_) {
      if (!p.shim) continue;
      int64_t total = 2000 * kMib;
      ASSERT_TRUE(shims_.Add(dir_ / "s", p.sandbox.id, total, total - p.guest_used).ok());
    }
    shims_.Start();
    auto d = DaemonProcess::Start(
        {.cri_endpoint = cri_->endpoint(),
         .cgroups_toml = fmt::format("root = \"{}\"\nread_interval = \"500ms\"\n", cgroup_root_),
         .extra_toml = fmt::format(
             "[pressure]\npsi_trigger = false\ninterval = \"1s\"\nshim_monitor_dir = \"{}\"\n", dir_ / "s")});
    ASSERT_TRUE(d.ok()) << d.error().message;
    daemon_ = std::move(*d);
  }

  // The daemon's pods once every pod is sized and each one with a shim has its measurement.
  std::vector<api::PodView> SettledPods() {
    std::vector<api::PodView> pods;
    size_t want_measured = 0;
    for (const auto& p : planned_) want_measured += p.shim;
    bool settled = DaemonProcess::WaitFor(
        [&] {
          auto r = api::ListPods(daemon_->api_socket(), milliseconds(2000));
          if (!r) return false;
          pods = *r;
          size_t sized = 0, measured = 0;
          for (const auto& p : pods) {
            sized += p.memory_mib.has_value();
            measured += p.host_overhead_measured_bytes.has_value();
          }
          return sized == planned_.size() && measured == want_measured;
        },
        milliseconds(30000));
    EXPECT_TRUE(settled) << daemon_->Log();
    return pods;
  }

  TempDir dir_{"rc"};  // short: /tmp/rc.XXXXXX/s/<64 hex>/shim-monitor.sock fits a unix socket address
  std::string cgroup_root_;
  std::vector<Planned> planned_;
  std::unique_ptr<FakeCriServer> cri_;
  FakeShimMonitors shims_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(RuntimeClassFromNode, RecommendsFromWhatTheDaemonMeasured) {
  StartNode(/*shims=*/true);
  ASSERT_TRUE(daemon_);
  auto pods = SettledPods();
  ASSERT_EQ(pods.size(), planned_.size());

  // The daemon measured exactly the overhead the test put into the pod cgroups.
  std::vector<sizer::OverheadSample> samples;
  for (const auto& pod : pods) {
    auto it = std::find_if(planned_.begin(), planned_.end(),
                           [&](const Planned& p) { return p.sandbox.id == pod.sandbox_id; });
    ASSERT_NE(it, planned_.end());
    if (!it->shim) {
      EXPECT_FALSE(pod.host_overhead_measured_bytes) << pod.name;
      continue;
    }
    ASSERT_TRUE(pod.host_overhead_measured_bytes) << pod.name;
    EXPECT_EQ(*pod.host_overhead_measured_bytes, it->vmm_overhead) << pod.name;
    samples.push_back({.handler = "kata-cc",
                       .uvm_memory_mib = static_cast<double>(*pod.memory_mib),
                       .host_overhead_bytes = static_cast<double>(*pod.host_overhead_measured_bytes),
                       .pod_uid = pod.uid});
  }
  auto want = sizer::RecommendPodFixed(samples, {{"kata-cc", *sizer::FindBuiltinProfile("aks-kata-cc-2048")}},
                                       sizer::HostOverheadModel{});
  const auto& wh = want.handlers.at(0);
  ASSERT_EQ(wh.buckets.size(), 2u);  // UVM <= 4Gi (pods 0..7) and UVM <= 8Gi (pods 8, 9)

  auto r = Cli({"--from-node", daemon_->api_socket(), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  const json& rec = j["recommendation"];
  EXPECT_EQ(rec["pod_fixed_mib"], wh.pod_fixed_mib);
  EXPECT_EQ(j["runtimeclass"]["overhead"]["podFixed"]["memory"], fmt::format("{}Mi", wh.pod_fixed_mib));
  ASSERT_EQ(rec["buckets"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rec["buckets"][i]["max_uvm_mib"], wh.buckets[i].max_uvm_mib);
    EXPECT_EQ(rec["buckets"][i]["samples"], wh.buckets[i].samples);
    EXPECT_EQ(rec["buckets"][i]["pods"], wh.buckets[i].pods);
    EXPECT_EQ(rec["buckets"][i]["p95_bytes"], wh.buckets[i].p95_bytes);
    EXPECT_EQ(rec["buckets"][i]["pod_fixed_mib"], wh.buckets[i].pod_fixed_mib);
  }
  // Pods 0..7: p95 of 8 is rank 8, pod 7's 139 MiB + 28 KiB; pods 8, 9: pod 9's 153 MiB + 36 KiB binds.
  EXPECT_EQ(rec["buckets"][0]["p95_bytes"], 139 * kMib + 7 * 4096);
  EXPECT_EQ(rec["buckets"][1]["p95_bytes"], 153 * kMib + 9 * 4096);
  EXPECT_EQ(rec["binding_bucket_max_uvm_mib"], 8192);
  EXPECT_EQ(wh.pod_fixed_mib, 2048 + 176);  // (153 MiB + 36 KiB) · 1.15 = 175.99 MiB, rounded up

  auto yaml = Cli({"--from-node", daemon_->api_socket()});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_EQ(YAML::Load(yaml.out)["overhead"]["podFixed"]["memory"].as<std::string>(),
            fmt::format("{}Mi", wh.pod_fixed_mib));
  EXPECT_THAT(yaml.out,
              AllOf(HasSubstr("the daemon at " + daemon_->api_socket()), HasSubstr("p95 (nearest rank)"),
                    HasSubstr("from 2 sample(s) of 2 pod(s)"), HasSubstr("from the bucket UVM <= 8Gi")));
  EXPECT_THAT(yaml.out, HasSubstr("Note: 2 VM pod(s) of handler kata-cc have no measured overhead"));
  EXPECT_THAT(yaml.out, HasSubstr("Note: low confidence: the binding bucket rests on 2 pod(s)"));
}

TEST_F(RuntimeClassFromNode, NothingMeasuredFallsBackToTheModelAndSaysSo) {
  StartNode(/*shims=*/false);
  ASSERT_TRUE(daemon_);
  auto pods = SettledPods();
  ASSERT_EQ(pods.size(), planned_.size());
  auto r = Cli({"--from-node", daemon_->api_socket()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto model = Cli({});
  ASSERT_EQ(model.exit_code, 0) << model.err;
  EXPECT_EQ(YAML::Load(r.out)["overhead"]["podFixed"]["memory"].as<std::string>(),
            YAML::Load(model.out)["overhead"]["podFixed"]["memory"].as<std::string>());
  EXPECT_THAT(r.out, AllOf(HasSubstr("from the MODEL, not measured"),
                           HasSubstr("Note: no samples of handler kata-cc: falls back to the model"),
                           HasSubstr("Note: 12 VM pod(s) of handler kata-cc have no measured overhead")));
}

TEST_F(RuntimeClassFromNode, NoDaemonIsExit2NamingTheSocket) {
  ASSERT_TRUE(dir_.ok());
  std::string socket = dir_ / "nobody.sock";
  std::ofstream(socket) << "";  // a file where a socket should be: still no daemon
  auto r = Cli({"--from-node", socket, "--timeout-ms", "2000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_THAT(r.err, HasSubstr("--from-node: cannot reach the daemon at " + socket));
}

// The same on real pods: a private containerd 1.6 + runc runs kata-cc pod sandboxes in real (v1) pod cgroups,
// whose memory usage the kernel reports; each pod's shim monitor says the guest uses nothing, so the daemon's
// measurement is the pod cgroup's real usage. The CLI's recommendation equals the pure recommender's on what
// ListPods gave just before and just after the CLI ran (retried until the two agree: the kernel's number may
// move between reads).
class RuntimeClassFromContainerd : public ContainerdTest {};

TEST_F(RuntimeClassFromContainerd, RecommendsFromRealPodCgroupUsage) {
  TempDir dir("rcc");
  ASSERT_TRUE(dir.ok());
  FakeShimMonitors shims;
  std::vector<Pod> pods;
  for (int i = 0; i < 3; ++i) {
    auto pod = containerd().CreatePod(
        {.name = fmt::format("rc-{}", i),
         .handler = "kata-cc",
         .resources = cri::LinuxResources{100000, 50000 * (i + 1), 512, (256 << 20) * (i + 1)},
         .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}});
    ASSERT_TRUE(pod.ok()) << pod.error().message;
    ASSERT_TRUE(shims.Add(dir / "s", pod->sandbox_id, 2000 * kMib, 2000 * kMib).ok());
    pods.push_back(*pod);
  }
  shims.Start();
  auto daemon = DaemonProcess::Start(
      {.cri_endpoint = containerd().endpoint(),
       .kubelet_cgroup_root = containerd().kubelet_cgroup_root(),
       .cgroups_toml = "read_interval = \"500ms\"\n",
       .extra_toml = fmt::format(
           "[pressure]\npsi_trigger = false\ninterval = \"1s\"\nshim_monitor_dir = \"{}\"\n", dir / "s")});
  ASSERT_TRUE(daemon.ok()) << daemon.error().message;
  auto list = [&] {
    auto r = api::ListPods((*daemon)->api_socket(), milliseconds(2000));
    return r ? *r : std::vector<api::PodView>{};
  };
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return SamplesOf(list()).size() == pods.size(); }, milliseconds(30000)))
      << (*daemon)->Log();
  for (const auto& p : list()) {
    if (p.host_overhead_measured_bytes) {
      EXPECT_GT(*p.host_overhead_measured_bytes, 0) << p.name;  // the pause task's pages
    }
  }

  const sizer::HandlerProfile kata_cc{"kata-cc", *sizer::FindBuiltinProfile("aks-kata-cc-2048")};
  bool compared = false;
  for (int attempt = 0; attempt < 20 && !compared; ++attempt) {
    auto before = SamplesOf(list());
    auto r = Cli({"--from-node", (*daemon)->api_socket(), "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto after = SamplesOf(list());
    auto same = [](const std::vector<sizer::OverheadSample>& a, const std::vector<sizer::OverheadSample>& b) {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].pod_uid != b[i].pod_uid || a[i].host_overhead_bytes != b[i].host_overhead_bytes ||
            a[i].uvm_memory_mib != b[i].uvm_memory_mib)
          return false;
      }
      return true;
    };
    if (!same(before, after)) continue;
    compared = true;
    auto want = sizer::RecommendPodFixed(before, {kata_cc}, sizer::HostOverheadModel{}).handlers.at(0);
    json j = json::parse(r.out);
    EXPECT_EQ(j["recommendation"]["pod_fixed_mib"], want.pod_fixed_mib) << r.out;
    EXPECT_EQ(j["recommendation"]["samples_used"], pods.size());
    ASSERT_EQ(j["recommendation"]["buckets"].size(), want.buckets.size());
    for (size_t i = 0; i < want.buckets.size(); ++i) {
      EXPECT_EQ(j["recommendation"]["buckets"][i]["measured"], true);
      EXPECT_EQ(j["recommendation"]["buckets"][i]["p95_bytes"], want.buckets[i].p95_bytes);
      EXPECT_EQ(j["recommendation"]["buckets"][i]["pods"], want.buckets[i].pods);
    }
  }
  EXPECT_TRUE(compared) << "the measurements never held still across one CLI run";
  for (const auto& p : pods) EXPECT_TRUE(containerd().RemovePod(p).ok());
}

}  // namespace
}  // namespace uvm::testing
