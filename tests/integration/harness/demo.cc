// `scripts/demo.sh`: a private containerd whose handlers kata and kata-cc are runc underneath, a few pods
// created the way the kubelet creates them, the real daemon watching them, and what it reports. Everything
// is removed at the end (containerd, pods, cgroups, temp dirs).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/subprocess.h"

namespace {

using uvm::cri::LinuxResources;
using uvm::testing::PodOptions;
constexpr int64_t kMib = 1 << 20;

int Fail(const std::string& what) {
  std::cerr << "demo: " << what << '\n';
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int linger_seconds = argc > 1 ? std::atoi(argv[1]) : 0;
  std::cout << "== starting a private containerd (handlers kata, kata-cc, runc: all runc underneath)\n";
  auto ctrd = uvm::testing::PrivateContainerd::Start();
  if (!ctrd) return Fail(ctrd.error().message);

  std::cout << "== starting `uvm-sizer daemon` (observe mode) on it\n";
  auto daemon = uvm::testing::DaemonProcess::Start({.cri_endpoint = (*ctrd)->endpoint(),
                                                    .mode = "observe",
                                                    .kubelet_cgroup_root = (*ctrd)->kubelet_cgroup_root()});
  if (!daemon) return Fail(daemon.error().message);

  std::cout << "== creating pods the way the kubelet does (pod cgroup first, then RunPodSandbox)\n";
  std::vector<PodOptions> pods = {
      {.name = "web",
       .namespace_ = "shop",
       .handler = "kata-cc",
       .resources = LinuxResources{100000, 150000, 1536, 512 * kMib},
       .overhead = LinuxResources{100000, 25000, 256, 160 * kMib}},
      {.name = "api",
       .namespace_ = "shop",
       .handler = "kata",
       .resources = LinuxResources{100000, 100000, 1024, 1024 * kMib},
       .overhead = LinuxResources{100000, 25000, 256, 600 * kMib}},
      {.name = "batch", .namespace_ = "jobs", .handler = "kata", .qos = "besteffort"},
      {.name = "plain",
       .namespace_ = "shop",
       .handler = "runc",
       .resources = LinuxResources{100000, 50000, 512, 256 * kMib}},
  };
  for (const auto& p : pods) {
    auto pod = (*ctrd)->CreatePod(p);
    if (!pod) return Fail(pod.error().message);
    std::cout << fmt::format("   {}/{} handler {} sandbox {}\n", p.namespace_, pod->spec.name, p.handler,
                             pod->sandbox_id.substr(0, 12));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));

  std::cout << "\n== uvm-sizer status\n";
  auto status = uvm::testing::RunProcess({UVM_SIZER_BIN, "status", "--socket", (*daemon)->api_socket()});
  std::cout << status.out << status.err;

  std::cout << "\n== the per-pod metrics (http://127.0.0.1:" << (*daemon)->metrics_port() << "/metrics)\n";
  auto body = (*daemon)->Scrape();
  if (!body) return Fail(body.error().message);
  size_t pos = 0;
  while (pos < body->size()) {
    size_t end = body->find('\n', pos);
    std::string line = body->substr(pos, end - pos);
    pos = end == std::string::npos ? body->size() : end + 1;
    if (line.rfind("uvm_sizer_pod_uvm_", 0) == 0 || line.rfind("uvm_sizer_pod_host_memory", 0) == 0 ||
        line.rfind("uvm_sizer_pod_overhead_", 0) == 0 || line.rfind("uvm_sizer_cri_up", 0) == 0) {
      std::cout << "   " << line << '\n';
    }
  }
  std::cout << "\n== the daemon's journal lines\n" << (*daemon)->Log();
  if (linger_seconds > 0) {
    std::cout << fmt::format("\n== leaving it running for {} s: try `{} status --socket {}`\n",
                             linger_seconds, UVM_SIZER_BIN, (*daemon)->api_socket());
    std::this_thread::sleep_for(std::chrono::seconds(linger_seconds));
  }
  std::cout << "\n== cleaning up\n";
  return 0;  // the daemon and containerd objects clean up as they go
}
