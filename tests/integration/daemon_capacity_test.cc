// Issue 10's acceptance for the daemon, end to end: the real `uvm-sizer daemon` against a private
// containerd 1.6 + runc whose "runc" handler [handlers] maps to a Kata profile (so its pods count as VM
// pods), one configured shape, and /metrics: uvm_sizer_node_fit_pods{view="host"} equals what the pure
// ledger (sizer/capacity.h) computes over the live pods, and moves within one tick when a pod comes or goes.
#include <stdlib.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sizer/capacity.h"
#include "sizer/formats/manifest.h"
#include "sizer/overhead.h"
#include "sizer/size_pod.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/subprocess.h"

namespace uvm::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
constexpr int64_t kMib = 1 << 20;
constexpr int64_t kGib = 1024 * kMib;

// The daemon's cadences in this test: a pod change reaches the ledger at the next runtime poll (or
// containerd's event) and the tick republishes it. The bound is what "within one tick" means here, plus
// the scrape; it is a limit on waiting, not a measurement.
constexpr milliseconds kTick{1000};
constexpr milliseconds kPoll{500};
constexpr milliseconds kWithinOneTick = kTick + kPoll + milliseconds(1500);

constexpr const char* kProfile = "aks-kata-cc-2048";
const sizer::NodeAllocatable kAllocatable{.memory_bytes = 12 * kGib, .cpu_millis = 8000, .pods = 30};

// The shape: one more pod of RuntimeClass "vm" (handler runc, podFixed 160Mi / 250m) with 512Mi limits.
constexpr const char* kShapeManifest = R"(apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: vm}
handler: runc
overhead:
  podFixed: {memory: 160Mi, cpu: 250m}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      runtimeClassName: vm
      containers:
      - name: app
        image: x
        resources:
          requests: {cpu: 500m, memory: 512Mi}
          limits: {cpu: 500m, memory: 512Mi}
)";

// A pod as the kubelet sends a RuntimeClass "vm" pod of 1.5 CPUs / 512 MiB to the runtime.
PodOptions VmPod(const std::string& name) {
  return {.name = name,
          .handler = "runc",
          .resources = cri::LinuxResources{100000, 150000, 1536, 512 * kMib},
          .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}};
}

// What the test knows of one such live pod, as the ledger counts it: sized by the profile [handlers]
// names, its CPU request (1.5 CPUs) and declared overhead as sent, no measurement (there is no shim).
sizer::LedgerPod KnownPod(const Pod& pod) {
  const sizer::ProfileCatalog catalog = sizer::ProfileCatalog::Builtin();
  const sizer::Profile& profile = *catalog.Find(kProfile);
  sizer::SandboxResources resources{100000, 150000, 1536, 512 * kMib};
  sizer::SandboxResources overhead{100000, 25000, 256, 160 * kMib};
  auto sized = sizer::SizeSandbox(resources, {}, sizer::DeclaredFromCri(overhead), profile, {});
  sizer::LedgerPod p;
  p.uid = pod.uid;
  p.handler = "runc";
  p.vm_isolated = true;
  p.cpu_request_millis = 1500;
  p.overhead_memory_bytes = 160 * kMib;
  p.overhead_cpu_millis = 250;
  p.uvm_memory_bytes = static_cast<int64_t>(sized.kata.uvm->memory_mib) * kMib;
  p.host_overhead_model_bytes = *sized.host_memory_bytes - p.uvm_memory_bytes;
  return p;
}

// The shape as `uvm-sizer size` sizes it with the same catalog.
sizer::Shape KnownShape() {
  auto manifest = sizer::formats::ParseManifest(kShapeManifest);
  EXPECT_TRUE(manifest.ok());
  sizer::SizingContext ctx;
  EXPECT_TRUE(ctx.catalog.MapHandler("runc", kProfile).ok());
  ctx.runtime_classes = manifest->runtime_classes;
  auto sizing = sizer::SizePod(manifest->pods.at(0), ctx);
  EXPECT_TRUE(sizing.ok());
  return {.name = "web", .pod = sizer::LedgerPodFromSizing(manifest->pods.at(0), *sizing)};
}

sizer::NodeLedger Expected(const std::vector<const Pod*>& pods) {
  std::vector<sizer::LedgerPod> ledger_pods;
  for (const Pod* p : pods) ledger_pods.push_back(KnownPod(*p));
  std::vector<sizer::Shape> shapes{KnownShape()};
  return sizer::BuildNodeLedger("it-node", kAllocatable, ledger_pods, shapes);
}

class DaemonCapacity : public ContainerdTest {
 protected:
  void SetUp() override {
    ContainerdTest::SetUp();
    std::string tmpl = (fs::temp_directory_path() / "uvm-shapes-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    shapes_dir_ = tmpl;
    std::ofstream(shapes_dir_ + "/web.yaml") << kShapeManifest;
  }
  void TearDown() override {
    std::error_code ec;
    if (!shapes_dir_.empty()) fs::remove_all(shapes_dir_, ec);
  }

  std::unique_ptr<DaemonProcess> StartDaemon() {
    auto d = DaemonProcess::Start(
        {.cri_endpoint = containerd().endpoint(),
         .kubelet_cgroup_root = containerd().kubelet_cgroup_root(),
         .poll_interval = "500ms",
         .node_toml = "name = \"it-node\"\n",
         .extra_toml = fmt::format("[handlers]\nrunc = \"{}\"\n[pressure]\ninterval = \"1s\"\n"
                                   "[capacity]\nshapes = [\"{}/*.yaml\"]\nallocatable_memory = \"12Gi\"\n"
                                   "allocatable_cpu = \"8\"\nallocatable_pods = 30\n",
                                   kProfile, shapes_dir_)});
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? std::move(*d) : nullptr;
  }
  static std::optional<double> HostFit(const DaemonProcess& d) {
    return d.Value("uvm_sizer_node_fit_pods", {{"node", "it-node"}, {"shape", "web"}, {"view", "host"}});
  }

  std::string shapes_dir_;
};

TEST_F(DaemonCapacity, HostFitIsThePureLedgersForTheLivePodsAndMovesWithinOneTick) {
  auto a = containerd().CreatePod(VmPod("ledger-a"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] {
        return daemon->Value("uvm_sizer_pod_uvm_memory_bytes", {{"uid", a->uid}}).has_value();
      },
      milliseconds(5000)))
      << daemon->Log();
  EXPECT_EQ(daemon->Value("uvm_sizer_node_info", {{"node", "it-node"}}), 1.0);
  EXPECT_EQ(daemon->Value("uvm_sizer_pod_uvm_memory_bytes", {{"uid", a->uid}, {"node", "it-node"}}),
            static_cast<double>(KnownPod(*a).uvm_memory_bytes));
  EXPECT_EQ(daemon->Value("uvm_sizer_node_allocatable_memory_bytes"), 12.0 * kGib);

  // One pod: the daemon's fit is the pure ledger's, and so is what it says the host has committed.
  sizer::NodeLedger one = Expected({&*a});
  ASSERT_TRUE(one.fits.at(0).host.count);
  ASSERT_EQ(one.fits[0].host.binding, sizer::FitResource::kMemory) << "the shape binds on memory here";
  EXPECT_EQ(HostFit(*daemon), static_cast<double>(*one.fits[0].host.count)) << daemon->Log();
  EXPECT_EQ(daemon->Value("uvm_sizer_node_committed_memory_bytes", {{"view", "host"}}),
            static_cast<double>(one.host.committed_memory_bytes));
  EXPECT_EQ(daemon->Value("uvm_sizer_node_committed_cpu_cores", {{"view", "host"}}),
            static_cast<double>(one.host.committed_cpu_millis) / 1000.0);
  EXPECT_EQ(daemon->Value("uvm_sizer_shape_memory_bytes", {{"shape", "web"}, {"view", "host"}}),
            static_cast<double>(sizer::HostMemoryNeed(KnownShape().pod)));
  EXPECT_EQ(daemon->Value("uvm_sizer_shape_memory_bytes", {{"shape", "web"}, {"view", "scheduler"}}),
            static_cast<double>(512 * kMib + 160 * kMib));

  // A pod comes: the fit drops to the ledger's for two pods within one tick.
  auto b = containerd().CreatePod(VmPod("ledger-b"));
  ASSERT_TRUE(b.ok()) << b.error().message;
  sizer::NodeLedger two = Expected({&*a, &*b});
  ASSERT_LT(*two.fits[0].host.count, *one.fits[0].host.count) << "the test's numbers must move";
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return HostFit(*daemon) == static_cast<double>(*two.fits[0].host.count); }, kWithinOneTick))
      << "fit " << HostFit(*daemon).value_or(-1) << ", want " << *two.fits[0].host.count << "\n"
      << daemon->Log();
  EXPECT_EQ(daemon->Value("uvm_sizer_node_committed_memory_bytes", {{"view", "host"}}),
            static_cast<double>(two.host.committed_memory_bytes));

  // A pod goes: back to the ledger's for the one left, within one tick.
  ASSERT_TRUE(containerd().RemovePod(*a).ok());
  sizer::NodeLedger left = Expected({&*b});
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return HostFit(*daemon) == static_cast<double>(*left.fits[0].host.count); }, kWithinOneTick))
      << "fit " << HostFit(*daemon).value_or(-1) << ", want " << *left.fits[0].host.count << "\n"
      << daemon->Log();

  // `uvm-sizer status` shows the same ledger.
  auto status = RunProcess({UVM_SIZER_BIN, "status", "--socket", daemon->api_socket(), "-o", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto j = nlohmann::json::parse(status.out);
  EXPECT_EQ(j["ledger"]["node"], "it-node");
  EXPECT_EQ(j["ledger"]["vm_pods"], 1);
  EXPECT_EQ(j["ledger"]["allocatable"]["source"], "config (memory, cpu, pods)");
  EXPECT_EQ(j["ledger"]["shapes"][0]["shape"], "web");
  EXPECT_EQ(j["ledger"]["shapes"][0]["host_fit"], *left.fits[0].host.count);
  EXPECT_EQ(j["ledger"]["shapes"][0]["host_binding"], "memory");
  auto text = RunProcess({UVM_SIZER_BIN, "status", "--socket", daemon->api_socket()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("node it-node: allocatable 12288Mi memory, 8000m CPU, 30 pods"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("VMM MEASURED"), std::string::npos) << text.out;
  ASSERT_TRUE(containerd().RemovePod(*b).ok());
}

TEST_F(DaemonCapacity, ABadShapeFileRefusesTheReloadAndKeepsTheOldLedger) {
  auto daemon = StartDaemon();
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(DaemonProcess::WaitFor([&] { return HostFit(*daemon).has_value(); }, milliseconds(5000)))
      << daemon->Log();
  double before = *HostFit(*daemon);
  std::ofstream(shapes_dir_ + "/zz-broken.yaml") << "kind: Pod\nspec:\n  containers:\n  - name: c\n"
                                                    "    resources: {limits: {memory: 1.5.5Gi}}\n";
  daemon->Signal(SIGHUP);
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Log().find("new configuration refused") != std::string::npos; },
      milliseconds(5000)))
      << daemon->Log();
  EXPECT_NE(daemon->Log().find("capacity.shapes: " + shapes_dir_ + "/zz-broken.yaml"), std::string::npos)
      << daemon->Log();
  EXPECT_EQ(HostFit(*daemon), before);
}

}  // namespace
}  // namespace uvm::testing
