// The daemon's node ledger: where allocatable comes from (temp files for the kubelet's), the shapes it
// sizes, the ledger pods it builds from its pod table, the measured VMM overhead, and the node series the
// core publishes as pods come and go.
#include "daemon/capacity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/reconciler.h"
#include "fake_ports.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

namespace fs = std::filesystem;
using fake::KataCcPod;
using fake::kMib;
using ::testing::HasSubstr;

constexpr int64_t kGib = 1024 * kMib;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "uvm-capacity-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    return file;
  }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

const MachineFacts kMachine{.memory_total_bytes = 16 * kGib, .online_cpus = 4, .hostname = "host-a"};

const char* const kKubeletConfig = R"(apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
kubeReserved: {cpu: 100m, memory: 1Gi}
systemReserved: {cpu: 400m, memory: 512Mi}
evictionHard: {memory.available: 500Mi}
)";
const char* const kKubeletFlags =
    "KUBELET_FLAGS=\"--kube-reserved=cpu=200m,memory=2Gi --eviction-hard=memory.available<750Mi\"\n";

const char* const kWebShape = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      runtimeClassName: kata
      containers:
      - name: c
        image: x
        resources:
          requests: {cpu: 500m, memory: 1Gi}
          limits: {cpu: "1", memory: 1Gi}
)";

DaemonConfig ConfigIn(const TempDir& dir) {
  DaemonConfig c;
  c.node.kubelet_config = dir.Path("config.yaml");
  c.node.kubelet_flags = dir.Path("kubelet");
  return c;
}

Result<NodeCapacity> Load(const DaemonConfig& c) {
  return LoadNodeCapacity(c, sizer::ProfileCatalog::Builtin(), kMachine);
}

TEST(NodeAllocatable, TheKubeletConfigurationFileCountsAlone) {
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  dir.Write("config.yaml", kKubeletConfig);
  auto cap = Load(c);
  ASSERT_TRUE(cap.ok()) << cap.error().message;
  EXPECT_EQ(cap->allocatable.memory_bytes, 16 * kGib - kGib - 512 * kMib - 500 * kMib);
  EXPECT_EQ(cap->allocatable.cpu_millis, 4000 - 500);
  EXPECT_EQ(cap->allocatable.pods, 0);
  EXPECT_EQ(cap->memory_source, AllocatableSource::kKubeletConfig);
  EXPECT_EQ(cap->allocatable_source, "kubelet-config " + c.node.kubelet_config);
  EXPECT_EQ(cap->node, "host-a");  // no [node] name: the hostname
}

TEST(NodeAllocatable, FlagsOverrideTheFieldsOfTheConfigurationFileTheySet) {
  // As the kubelet does: --kube-reserved (cpu=200m,memory=2Gi) and --eviction-hard (750Mi) replace the
  // file's, its systemReserved (400m, 512Mi) stays.
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  dir.Write("config.yaml", kKubeletConfig);
  dir.Write("kubelet", kKubeletFlags);
  auto cap = Load(c);
  ASSERT_TRUE(cap.ok()) << cap.error().message;
  EXPECT_EQ(cap->allocatable.memory_bytes, 16 * kGib - 2 * kGib - 512 * kMib - 750 * kMib);
  EXPECT_EQ(cap->allocatable.cpu_millis, 4000 - 200 - 400);
  EXPECT_EQ(cap->memory_source, AllocatableSource::kKubeletConfig);
  EXPECT_EQ(cap->allocatable_source,
            "kubelet-config " + c.node.kubelet_config + " + kubelet-flags " + c.node.kubelet_flags);
}

TEST(NodeAllocatable, WithoutAConfigurationFileTheFlagsFileCounts) {
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  dir.Write("kubelet", kKubeletFlags);
  auto cap = Load(c);
  ASSERT_TRUE(cap.ok()) << cap.error().message;
  EXPECT_EQ(cap->allocatable.memory_bytes, 16 * kGib - 2 * kGib - 750 * kMib);
  EXPECT_EQ(cap->allocatable.cpu_millis, 3800);
  EXPECT_EQ(cap->cpu_source, AllocatableSource::kKubeletFlags);
  EXPECT_EQ(cap->allocatable_source, "kubelet-flags " + c.node.kubelet_flags);
  EXPECT_THAT(::testing::PrintToString(cap->notes), HasSubstr("config.yaml does not exist"));
}

TEST(NodeAllocatable, WithoutEitherFileTheKubeletDefaultsApply) {
  TempDir dir;
  auto cap = Load(ConfigIn(dir));
  ASSERT_TRUE(cap.ok()) << cap.error().message;
  // The kubelet's default hard eviction threshold, memory.available<100Mi; nothing reserved.
  EXPECT_EQ(cap->allocatable.memory_bytes, 16 * kGib - 100 * kMib);
  EXPECT_EQ(cap->allocatable.cpu_millis, 4000);
  EXPECT_EQ(cap->memory_source, AllocatableSource::kKubeletDefaults);
  // Empty keys are not looked at at all.
  DaemonConfig none;
  none.node.kubelet_config = "";
  none.node.kubelet_flags = "";
  auto bare = Load(none);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->allocatable, cap->allocatable);
  EXPECT_TRUE(bare->notes.empty());
}

TEST(NodeAllocatable, ConfigOverridesWinResourceByResource) {
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  dir.Write("kubelet", kKubeletFlags);
  c.capacity.allocatable_memory_bytes = 10 * kGib;
  c.capacity.allocatable_pods = 110;
  auto cap = Load(c);
  ASSERT_TRUE(cap.ok()) << cap.error().message;
  EXPECT_EQ(cap->allocatable,
            (sizer::NodeAllocatable{.memory_bytes = 10 * kGib, .cpu_millis = 3800, .pods = 110}));
  EXPECT_EQ(cap->memory_source, AllocatableSource::kConfig);
  EXPECT_EQ(cap->cpu_source, AllocatableSource::kKubeletFlags);
  EXPECT_EQ(cap->allocatable_source, "config (memory, pods), kubelet-flags " + c.node.kubelet_flags);
  // Memory and CPU both overridden: the kubelet's files are not even read (a broken one does not matter).
  dir.Write("config.yaml", "kubeReserved:\n  memory: 1.5.5Gi\n");
  c.capacity.allocatable_cpu_millis = 7500;
  auto all = Load(c);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->allocatable.cpu_millis, 7500);
  EXPECT_EQ(all->allocatable_source, "config (memory, cpu, pods)");
}

TEST(NodeAllocatable, AMalformedKubeletFileIsAnErrorNamingKeyFileAndField) {
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  dir.Write("config.yaml", "kubeReserved:\n  memory: 1.5.5Gi\n");
  auto bad = Load(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message,
              HasSubstr("node.kubelet_config: " + c.node.kubelet_config + ": kubeReserved.memory"));
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  fs::remove(c.node.kubelet_config);
  dir.Write("kubelet", "--kube-reserved=memory=lots\n");
  auto flags = Load(c);
  ASSERT_FALSE(flags.ok());
  EXPECT_THAT(flags.error().message, HasSubstr("node.kubelet_flags: " + c.node.kubelet_flags + ": "));
}

TEST(NodeShapes, AShapeIsSizedWithTheNodesProfilesAndNamedByItsObject) {
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  dir.Write("web.yaml", kWebShape);
  c.capacity.shapes = {dir.Path("*.yaml")};
  auto cap = Load(c);
  ASSERT_TRUE(cap.ok()) << cap.error().message;
  ASSERT_EQ(cap->shapes.size(), 1u);
  const sizer::Shape& web = cap->shapes[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_TRUE(web.pod.vm_isolated);
  EXPECT_EQ(web.pod.handler, "kata");
  // aks-kata-256: 256 MiB base + the 1Gi limit; the host pays its VMM on top.
  EXPECT_EQ(web.pod.uvm_memory_bytes, 1280 * kMib);
  EXPECT_EQ(sizer::SchedulerMemoryNeed(web.pod), kGib);
  EXPECT_GT(sizer::HostMemoryNeed(web.pod), 1280 * kMib);
  EXPECT_EQ(sizer::CpuNeed(web.pod), 500);

  // The same shape under a node whose [handlers] unmap kata: sized as a pod that is not VM-isolated.
  sizer::ProfileCatalog none;
  const sizer::ProfileCatalog builtin = sizer::ProfileCatalog::Builtin();
  for (const auto& p : builtin.profiles()) none.Put(p);
  auto unmapped = LoadNodeCapacity(c, none, kMachine);
  ASSERT_TRUE(unmapped.ok()) << unmapped.error().message;
  EXPECT_FALSE(unmapped->shapes.at(0).pod.vm_isolated);
  EXPECT_EQ(sizer::HostMemoryNeed(unmapped->shapes.at(0).pod), kGib);
}

TEST(NodeShapes, BadShapeFilesAreErrorsNamingThemAndEmptyGlobsAreNotes) {
  TempDir dir;
  DaemonConfig c = ConfigIn(dir);
  c.capacity.shapes = {dir.Path("none-*.yaml")};
  auto empty = Load(c);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->shapes.empty());
  EXPECT_THAT(::testing::PrintToString(empty->notes), HasSubstr("matches no file"));

  c.capacity.shapes = {dir.Path("missing.yaml")};
  auto missing = Load(c);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("capacity.shapes: " + dir.Path("missing.yaml")));

  std::string broken = dir.Write("broken.yaml",
                                 "kind: Pod\nspec:\n  containers:\n  - name: c\n    resources:\n"
                                 "      limits: {memory: 1.5.5Gi}\n");
  c.capacity.shapes = {broken};
  auto bad = Load(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("capacity.shapes: " + broken + ": document 1"));
  EXPECT_THAT(bad.error().message, HasSubstr("1.5.5Gi"));

  std::string service = dir.Write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n");
  c.capacity.shapes = {service};
  auto no_pod = Load(c);
  ASSERT_FALSE(no_pod.ok());
  EXPECT_THAT(no_pod.error().message, HasSubstr(service + ": holds no pod-bearing object"));

  std::string a = dir.Write("a.yaml", kWebShape);
  std::string b = dir.Write("b.yaml", kWebShape);
  c.capacity.shapes = {a, b};
  auto twins = Load(c);
  ASSERT_FALSE(twins.ok());
  EXPECT_THAT(twins.error().message, HasSubstr(b + ": a second shape named \"web\" (the first is in " + a));
}

TEST(LedgerPods, CpuRequestsAreReadBackFromShares) {
  EXPECT_EQ(CpuRequestMillisFromShares(1024), 1000);
  EXPECT_EQ(CpuRequestMillisFromShares(1536), 1500);
  EXPECT_EQ(CpuRequestMillisFromShares(102), 99);  // 100m -> 102 shares -> 99m: the approximation
  EXPECT_EQ(CpuRequestMillisFromShares(2), 0);     // MinShares: no request (or 1m)
  EXPECT_EQ(CpuRequestMillisFromShares(0), 0);
}

TEST(LedgerPods, MeasuredOverheadIsUsageLessGuestMemoryInUseAtLeastZero) {
  sizer::GuestObservation g{.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1548 * kMib};
  EXPECT_EQ(MeasuredHostOverhead(620 * kMib, g), 120 * kMib);
  EXPECT_EQ(MeasuredHostOverhead(400 * kMib, g), 0);  // the guest has not touched all it uses yet
  EXPECT_EQ(MeasuredHostOverhead(std::nullopt, g), std::nullopt);
  EXPECT_EQ(MeasuredHostOverhead(620 * kMib, std::nullopt), std::nullopt);
}

class NodeLedgerTest : public ::testing::Test {
 protected:
  NodeLedgerTest() : log_(Priority::kDebug, [](std::string_view) {}) {}

  ReconcileSetup LedgerSetup() const {
    ReconcileSetup s;
    s.capacity.node = "node-1";
    s.capacity.allocatable = {.memory_bytes = 12 * kGib, .cpu_millis = 8000, .pods = 30};
    // One more kata-cc pod of 512 MiB limits: UVM 2560 MiB, 1.5 CPUs requested.
    sizer::LedgerPod shape{.handler = "kata-cc",
                           .vm_isolated = true,
                           .memory_request_bytes = 512 * kMib,
                           .cpu_request_millis = 1500,
                           .uvm_memory_bytes = 2560 * kMib,
                           .host_overhead_model_bytes = 100 * kMib};
    s.capacity.shapes = {sizer::Shape{.name = "web", .pod = shape}};
    return s;
  }
  Reconciler Make() { return Reconciler(LedgerSetup(), cgroups_, guest_, metrics_, log_); }
  void Round(Reconciler& r) {
    r.Apply(FetchRuntime(runtime_, r.InspectedIds(), false, r.DynamicHandlers(), r.VmHandlers()));
  }
  void AddPod(const SandboxDetail& d, int64_t usage) {
    runtime_.sandboxes[d.summary.id] = d;
    cgroups_.cgroups[d.cgroup_parent] =
        CgroupReading{.memory_limit_bytes = 4 * kGib, .memory_usage_bytes = usage};
  }
  // What the pure ledger says over the pods the test put there.
  sizer::NodeLedger Expected(const Reconciler& r) const {
    auto pods = LedgerPodsFrom(r.table());
    return sizer::BuildNodeLedger("node-1", r.setup().capacity.allocatable, pods, r.setup().capacity.shapes);
  }
  std::optional<double> Series(const std::string& name, const std::vector<std::string>& labels = {}) const {
    return fake::Series(metrics_.Serialize(), name, labels);
  }

  fake::Runtime runtime_;
  fake::Cgroups cgroups_;
  fake::Guest guest_;  // answers wait for Answer()
  metrics::DaemonMetrics metrics_{"test", "node-1"};
  Logger log_;
};

TEST_F(NodeLedgerTest, TheLedgerAndItsSeriesFollowPodsAsTheyComeAndGo) {
  Reconciler r = Make();
  // Before any pod: the node's series are there, and the whole node is free.
  EXPECT_EQ(Series("uvm_sizer_node_allocatable_memory_bytes", {"node=\"node-1\""}), 12.0 * kGib);
  EXPECT_EQ(Series("uvm_sizer_node_allocatable_cpu_cores"), 8.0);
  EXPECT_EQ(Series("uvm_sizer_node_allocatable_pods"), 30.0);
  EXPECT_EQ(Series("uvm_sizer_node_fit_pods", {"shape=\"web\"", "view=\"host\""}), 4.0);  // 12Gi / 2660Mi
  EXPECT_EQ(Series("uvm_sizer_node_committed_memory_bytes", {"view=\"host\""}), 0.0);
  EXPECT_EQ(Series("uvm_sizer_shape_memory_bytes", {"view=\"scheduler\""}), 512.0 * kMib);
  EXPECT_EQ(Series("uvm_sizer_shape_memory_bytes", {"view=\"host\""}), 2660.0 * kMib);
  EXPECT_EQ(Series("uvm_sizer_shape_cpu_cores"), 1.5);

  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 300 * kMib);
  SandboxDetail runc = KataCcPod("sb2", "u2", 0, 0);
  runc.summary.runtime_handler = "runc";
  AddPod(runc, kGib);
  Round(r);
  sizer::NodeLedger want = Expected(r);
  EXPECT_EQ(r.ledger().pods, 2);
  EXPECT_EQ(r.ledger().vm_pods, 1);
  EXPECT_EQ(r.ledger().host.committed_memory_bytes, want.host.committed_memory_bytes);
  // The VM pod holds its UVM + modelled VMM; the runc pod its cgroup usage.
  const PodState& vm = *r.Find("sb1");
  EXPECT_EQ(want.host.committed_memory_bytes, *vm.sizing.host_memory_bytes + kGib);
  // 1536 shares each (1500m) and a declared CPU overhead of 25000/100000 (250m).
  EXPECT_EQ(r.ledger().host.committed_cpu_millis, 2 * (1500 + 250));
  ASSERT_EQ(r.ledger().fits.size(), 1u);
  EXPECT_EQ(r.ledger().fits[0].host.count, want.fits[0].host.count);
  EXPECT_EQ(Series("uvm_sizer_node_fit_pods", {"shape=\"web\""}),
            static_cast<double>(*want.fits[0].host.count));
  EXPECT_EQ(Series("uvm_sizer_node_committed_memory_bytes"),
            static_cast<double>(want.host.committed_memory_bytes));
  double with_two = *Series("uvm_sizer_node_fit_pods", {"shape=\"web\""});
  EXPECT_LT(with_two, 4.0);

  // A pod goes: the very next round moves the ledger and its series.
  runtime_.sandboxes.erase("sb1");
  Round(r);
  EXPECT_EQ(r.ledger().pods, 1);
  EXPECT_EQ(Series("uvm_sizer_node_fit_pods", {"shape=\"web\""}),
            static_cast<double>(*Expected(r).fits[0].host.count));
  EXPECT_GT(*Series("uvm_sizer_node_fit_pods", {"shape=\"web\""}), with_two);
}

TEST_F(NodeLedgerTest, ARecreatedSandboxCountsOnce) {
  Reconciler r = Make();
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0, /*created_at_ns=*/1), 300 * kMib);
  AddPod(KataCcPod("sb1b", "u1", 512 * kMib, 0, /*created_at_ns=*/2), 300 * kMib);
  Round(r);
  EXPECT_EQ(r.table().size(), 2u);
  EXPECT_EQ(r.ledger().pods, 1);
  EXPECT_EQ(r.ledger().vm_pods, 1);
}

TEST_F(NodeLedgerTest, MeasuredOverheadComesWithTheGuestsAnswerAndGoesWithoutIt) {
  Reconciler r = Make();
  SandboxDetail d = KataCcPod("sb1", "u1", 512 * kMib, 0);
  AddPod(d, 2600 * kMib);
  guest_.auto_answer = false;
  guest_.guests["sb1"] = {.mem_total_bytes = 2560 * kMib, .mem_available_bytes = 60 * kMib};
  Round(r);
  EXPECT_FALSE(r.Find("sb1")->host_overhead_measured_bytes) << "nothing before the guest answered";
  EXPECT_FALSE(Series("uvm_sizer_pod_host_overhead_measured_bytes", {"uid=\"u1\""}));
  guest_.Answer();
  const PodState& pod = *r.Find("sb1");
  ASSERT_EQ(pod.host_overhead_measured_bytes, 100 * kMib);  // 2600 - (2560 - 60)
  EXPECT_EQ(Series("uvm_sizer_pod_host_overhead_measured_bytes", {"uid=\"u1\"", "node=\"node-1\""}),
            100.0 * kMib);
  EXPECT_EQ(LedgerPodsFrom(r.table()).at(0).host_overhead_measured_bytes, 100 * kMib);

  // The VMM measured far above the model: the host view counts the measurement, from the next tick on
  // (the ledger is rebuilt once a step, not at each guest answer).
  int64_t model = *pod.sizing.host_memory_bytes - 2560 * kMib;
  cgroups_.cgroups[d.cgroup_parent].memory_usage_bytes = 2500 * kMib + model + 300 * kMib;
  r.Tick();
  guest_.Answer();
  EXPECT_EQ(pod.host_overhead_measured_bytes, model + 300 * kMib);
  r.Tick();
  EXPECT_EQ(r.ledger().vm_pods_measured_above_model, 1);
  EXPECT_EQ(r.ledger().host.committed_memory_bytes, 2560 * kMib + model + 300 * kMib);
  EXPECT_EQ(Series("uvm_sizer_node_committed_memory_bytes"), (2560.0 + 300) * kMib + model);
  guest_.Answer();

  // The shim stops answering: no measurement, no series, and the model again at the next tick.
  guest_.failing = true;
  r.Tick();
  guest_.Answer();
  EXPECT_FALSE(pod.host_overhead_measured_bytes);
  EXPECT_FALSE(Series("uvm_sizer_pod_host_overhead_measured_bytes", {"uid=\"u1\""}));
  r.Tick();
  EXPECT_EQ(r.ledger().host.committed_memory_bytes, *pod.sizing.host_memory_bytes);
  EXPECT_EQ(r.ledger().vm_pods_measured_above_model, 0);
}

TEST_F(NodeLedgerTest, ReconfiguredShapesReplaceTheirSeries) {
  Reconciler r = Make();
  ReconcileSetup next = LedgerSetup();
  next.capacity.shapes[0].name = "api";
  // A shape that requests nothing, on a node without a pod limit: unbounded, so no fit series.
  next.capacity.shapes.push_back(sizer::Shape{.name = "idle", .pod = {}});
  next.capacity.allocatable.pods = 0;
  r.Reconfigure(next);
  EXPECT_FALSE(Series("uvm_sizer_node_fit_pods", {"shape=\"web\""}));
  EXPECT_FALSE(Series("uvm_sizer_shape_cpu_cores", {"shape=\"web\""}));
  EXPECT_EQ(Series("uvm_sizer_node_fit_pods", {"shape=\"api\""}), 4.0);
  EXPECT_FALSE(Series("uvm_sizer_node_fit_pods", {"shape=\"idle\""}));
  EXPECT_EQ(Series("uvm_sizer_shape_cpu_cores", {"shape=\"idle\""}), 0.0);
  EXPECT_FALSE(Series("uvm_sizer_node_allocatable_pods")) << "no pod limit known: absent";
}

}  // namespace
}  // namespace uvm::daemon
