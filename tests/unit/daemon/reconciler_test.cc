// The core's discovery, sizing, enforcement and export against fake ports (tests/unit/daemon/fake_ports.h):
// the runtime and cgroup faults a real machine cannot be made to produce on demand. The pressure half of
// the core is in pressure_test.cc.
#include "daemon/reconciler.h"

#include <gtest/gtest.h>

#include "fake_ports.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;
using fake::KataCcPod;
using fake::kMib;

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest()
      : log_(
            Priority::kDebug, [this](std::string_view l) { lines_.emplace_back(l); },
            [this] { return now_; }) {}

  ReconcileSetup SetupFor(CgroupMode mode) const { return ReconcileSetup{.mode = mode}; }
  Reconciler Make(CgroupMode mode) { return Make(SetupFor(mode)); }
  Reconciler Make(ReconcileSetup setup) {
    return Reconciler(std::move(setup), cgroups_, guest_, metrics_, log_, nullptr, [this] { return now_; });
  }
  void Round(Reconciler& r, bool full = false) {
    r.Apply(FetchRuntime(runtime_, r.InspectedIds(), full, r.DynamicHandlers(), r.VmHandlers()));
  }
  void AddPod(const SandboxDetail& d, int64_t kubelet_limit) {
    runtime_.sandboxes[d.summary.id] = d;
    cgroups_.cgroups[d.cgroup_parent] = CgroupReading{.memory_limit_bytes = kubelet_limit,
                                                      .memory_usage_bytes = 64 * kMib,
                                                      .cpu_quota_us = 175000,
                                                      .cpu_period_us = 100000};
  }
  size_t Count(std::string_view fragment) const {
    return std::count_if(lines_.begin(), lines_.end(),
                         [&](const auto& l) { return l.find(fragment) != l.npos; });
  }
  bool Logged(std::string_view fragment) const { return Count(fragment) > 0; }
  std::optional<double> Value(const std::string& name, const std::vector<std::string>& labels) const {
    return fake::Series(metrics_.Serialize(), name, labels);
  }
  // A catalog with every built-in profile but no mapping for kata-cc: its pods are not VM-isolated.
  static sizer::ProfileCatalog WithoutKataCc() {
    sizer::ProfileCatalog c;
    const sizer::ProfileCatalog builtin = sizer::ProfileCatalog::Builtin();
    for (const auto& p : builtin.profiles()) c.Put(p);
    EXPECT_TRUE(c.MapHandler("kata", "aks-kata-256").ok());
    return c;
  }

  fake::Runtime runtime_;
  fake::Cgroups cgroups_;
  fake::Guest guest_;  // no endpoints unless a test adds one; answers wait for Answer()
  metrics::DaemonMetrics metrics_{"test", "node-1"};
  std::vector<std::string> lines_;
  Reconciler::Clock::time_point now_{std::chrono::hours(1000)};
  Logger log_;
};

TEST_F(ReconcilerTest, SizesANewPodOnceAndPublishesItsSeries) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 160 * kMib), 672 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  ASSERT_EQ(r.table().size(), 1u);
  const PodState& pod = *r.Find("sb1");
  EXPECT_EQ(pod.phase, PodPhase::kSized);
  EXPECT_EQ(pod.profile.value_or(""), "aks-kata-cc-2048");
  EXPECT_EQ(pod.sizing.kata.uvm->memory_mib, 2560u);
  EXPECT_EQ(pod.sizing.overhead.declared_memory_bytes, 160 * kMib);
  EXPECT_GT(pod.sizing.overhead.shortfall_bytes, 0);
  EXPECT_TRUE(Logged("declared overhead 160.0 MiB is"));
  std::string text = metrics_.Serialize();
  EXPECT_NE(text.find("uvm_sizer_pod_uvm_memory_bytes{"), std::string::npos);
  EXPECT_NE(text.find("uid=\"u1\""), std::string::npos);
  Round(r);
  Round(r);
  EXPECT_EQ(runtime_.inspect_calls, 1);  // inspected once, then only listed
  Round(r, /*full=*/true);
  EXPECT_EQ(runtime_.inspect_calls, 2);  // a full resync inspects again
}

TEST_F(ReconcilerTest, ObserveModeWritesNothing) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 160 * kMib), 672 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  r.Tick();
  Round(r);
  EXPECT_TRUE(cgroups_.writes.empty());
  EXPECT_EQ(*cgroups_.cgroups["/kubepods/burstable/podu1"].memory_limit_bytes, 672 * kMib);
}

TEST_F(ReconcilerTest, EnforceModeRaisesOnceToTheHostNeedAndTheVcpus) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 160 * kMib), 672 * kMib);
  Reconciler r = Make(CgroupMode::kEnforce);
  Round(r);
  const PodState& pod = *r.Find("sb1");
  ASSERT_EQ(cgroups_.writes.size(), 2u);
  EXPECT_EQ(*cgroups_.cgroups["/kubepods/burstable/podu1"].memory_limit_bytes, *pod.sizing.host_memory_bytes);
  EXPECT_EQ(*cgroups_.cgroups["/kubepods/burstable/podu1"].cpu_quota_us,
            300000);  // ceil(1 + 1.5) vCPUs x 100 ms
  EXPECT_EQ(pod.phase, PodPhase::kApplied);
  EXPECT_TRUE(Logged("raised memory limit of /kubepods/burstable/podu1 from 704643072 to"));
  Round(r);
  r.Tick();
  Round(r, true);
  r.Tick();
  EXPECT_EQ(cgroups_.writes.size(), 2u);  // idempotent: nothing written twice

  // A restarted daemon (a new reconciler) rebuilds the same state and writes nothing.
  Reconciler again = Make(CgroupMode::kEnforce);
  Round(again);
  EXPECT_EQ(cgroups_.writes.size(), 2u);
  EXPECT_EQ(again.Find("sb1")->phase, PodPhase::kApplied);
}

TEST_F(ReconcilerTest, EnforceNeverLowersAndNeverTouchesUnlimitedOrNonVmPods) {
  SandboxDetail generous = KataCcPod("sb1", "u1", 512 * kMib, 4096 * kMib);
  AddPod(generous, 4608 * kMib);
  cgroups_.cgroups[generous.cgroup_parent].cpu_quota_us = 400000;
  SandboxDetail unlimited = KataCcPod("sb2", "u2", 512 * kMib, 0);
  AddPod(unlimited, 0);
  cgroups_.cgroups[unlimited.cgroup_parent].memory_limit_bytes.reset();
  cgroups_.cgroups[unlimited.cgroup_parent].cpu_quota_us = -1;
  SandboxDetail runc = KataCcPod("sb3", "u3", 128 * kMib, 0);
  runc.summary.runtime_handler = "runc";
  AddPod(runc, 128 * kMib);
  Reconciler r = Make(CgroupMode::kEnforce);
  Round(r);
  r.Tick();
  EXPECT_TRUE(cgroups_.writes.empty()) << cgroups_.writes.front();
  EXPECT_FALSE(r.Find("sb3")->profile);
  std::string text = metrics_.Serialize();
  EXPECT_EQ(text.find("uvm_sizer_pod_uvm_vcpus{namespace=\"default\",pod=\"web-u3\""), std::string::npos);
}

TEST_F(ReconcilerTest, GonePodsLoseTheirSeriesAndARecreatedSandboxKeepsItsOwn) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 0), 512 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(metrics_.PodCount(), 2u);
  ASSERT_FALSE(fake::FamiliesWithUid(metrics_.Serialize(), fake::PressureFamilies(), "u2").empty());
  runtime_.sandboxes.erase("sb2");
  Round(r);
  EXPECT_EQ(metrics_.PodCount(), 1u);
  EXPECT_EQ(metrics_.Serialize().find("uid=\"u2\""), std::string::npos) << "every series of u2 is gone";
  EXPECT_EQ(cgroups_.forgotten, std::vector<std::string>{"/kubepods/burstable/podu2"});

  // Pod u1's sandbox is recreated (attempt 1, created later, with twice the limits): while both run the
  // new one's series are exported; when the old one stops, the new one keeps them.
  SandboxDetail second = KataCcPod("sb1b", "u1", 1024 * kMib, 0, /*created_at_ns=*/2);
  runtime_.sandboxes[second.summary.id] = second;
  Round(r);
  ASSERT_NE(r.Find("sb1b"), nullptr);
  double new_uvm = static_cast<double>(r.Find("sb1b")->sizing.kata.uvm->memory_mib) * kMib;
  ASSERT_NE(new_uvm, static_cast<double>(r.Find("sb1")->sizing.kata.uvm->memory_mib) * kMib);
  EXPECT_EQ(Value("uvm_sizer_pod_uvm_memory_bytes", {"uid=\"u1\""}), new_uvm);
  r.Tick();  // the old sandbox is observed too, but its assessment is not the one exported
  EXPECT_EQ(Value("uvm_sizer_pod_uvm_memory_bytes", {"uid=\"u1\""}), new_uvm);
  runtime_.sandboxes["sb1"].summary.ready = false;
  Round(r);
  EXPECT_EQ(r.Find("sb1"), nullptr);
  EXPECT_EQ(metrics_.PodCount(), 1u);
  EXPECT_EQ(Value("uvm_sizer_pod_uvm_memory_bytes", {"uid=\"u1\""}), new_uvm);
  EXPECT_TRUE(Value("uvm_sizer_pod_pressure_level", {"uid=\"u1\""}));
  EXPECT_TRUE(Value("uvm_sizer_pod_cgroup_memory_usage_bytes", {"uid=\"u1\""}));

  runtime_.sandboxes.clear();
  Round(r);
  EXPECT_EQ(metrics_.PodCount(), 0u) << metrics_.Serialize();
  EXPECT_EQ(r.table().size(), 0u);
}

TEST_F(ReconcilerTest, RuntimeDownKeepsStateAndInspectFailuresRetry) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  runtime_.inspect_fails.insert("sb1");
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(r.Find("sb1")->phase, PodPhase::kDiscovered);
  EXPECT_TRUE(r.Find("sb1")->last_error.has_value());
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"cri_inspect\""}), 1.0);
  runtime_.inspect_fails.clear();
  Round(r);
  EXPECT_EQ(r.Find("sb1")->phase, PodPhase::kSized);
  EXPECT_FALSE(r.Find("sb1")->last_error.has_value());
  runtime_.down = true;
  Round(r);
  EXPECT_EQ(r.table().size(), 1u);  // a runtime outage is not every pod gone
  EXPECT_EQ(metrics_.PodCount(), 1u);
}

TEST_F(ReconcilerTest, AWriteFailureIsCountedAtEveryTickAndLoggedOnceAMinute) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  cgroups_.write_fails = true;
  Reconciler r = Make(CgroupMode::kEnforce);
  Round(r);
  r.Tick();
  r.Tick();
  EXPECT_EQ(Value("uvm_sizer_cgroup_writes_total", {"result=\"error\""}), 3.0) << metrics_.Serialize();
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"cgroup_write\""}), 3.0);
  EXPECT_EQ(Count("cannot raise memory limit"), 1u);
  EXPECT_NE(r.Find("sb1")->phase, PodPhase::kApplied);
  EXPECT_EQ(r.Find("sb1")->last_error.value_or(""), "EBUSY");
  // A minute later the cause is logged again.
  now_ += 61s;
  r.Tick();
  EXPECT_EQ(Count("cannot raise memory limit"), 2u);
}

TEST_F(ReconcilerTest, ReconfigureResizesEveryPod) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(r.Find("sb1")->sizing.kata.uvm->memory_mib, 2560u);
  ReconcileSetup next;
  ASSERT_TRUE(next.catalog.MapHandler("kata-cc", "aks-2025").ok());
  uint64_t generation = r.generation();
  r.Reconfigure(next);
  EXPECT_EQ(r.Find("sb1")->profile.value_or(""), "aks-2025");
  EXPECT_EQ(r.Find("sb1")->sizing.kata.uvm->memory_mib, 512u);
  EXPECT_GT(r.generation(), generation) << "the API view is rebuilt";
  EXPECT_EQ(Value("uvm_sizer_pod_uvm_memory_bytes", {"uid=\"u1\""}), 512.0 * kMib);
}

TEST_F(ReconcilerTest, FullResyncsBringWritableLayerBytesOfVmPodsOnly) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  SandboxDetail runc = KataCcPod("sb2", "u2", 512 * kMib, 0);
  runc.summary.runtime_handler = "runc";
  AddPod(runc, 512 * kMib);
  runtime_.writable["sb1"] = 5 * kMib;
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(runtime_.stats_calls, 0);  // costly on containerd: not every poll
  EXPECT_FALSE(r.Find("sb1")->writable_layer_bytes);
  Round(r, /*full=*/true);
  EXPECT_EQ(runtime_.stats_calls, 1);  // the runc pod is not asked
  EXPECT_EQ(r.Find("sb1")->writable_layer_bytes, 5 * kMib);
  runtime_.writable["sb1"] = 9 * kMib;
  Round(r);
  EXPECT_EQ(r.Find("sb1")->writable_layer_bytes, 5 * kMib);  // kept until the next full resync
}

TEST_F(ReconcilerTest, WithoutSandboxCgroupOnlyEnforceBoundsKataOverheadOnce) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 4096 * kMib), 4608 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu1"].cpu_quota_us = 400000;
  cgroups_.kata_overhead["sb1"] = std::nullopt;  // Kata left it unlimited
  ReconcileSetup setup{.mode = CgroupMode::kEnforce};
  sizer::Profile p = *setup.catalog.Find("aks-kata-cc-2048");
  p.name = "no-sandbox-cgroup-only";
  p.sandbox_cgroup_only = false;
  setup.catalog.Put(p);
  ASSERT_TRUE(setup.catalog.MapHandler("kata-cc", p.name).ok());
  Reconciler r = Make(setup);
  Round(r);
  r.Tick();
  Round(r);
  r.Tick();
  ASSERT_EQ(cgroups_.writes.size(), 1u) << cgroups_.writes.front();
  EXPECT_EQ(cgroups_.kata_overhead["sb1"], r.Find("sb1")->sizing.host_memory_bytes);
  EXPECT_EQ(cgroups_.overhead_calls, 1) << "bounded once, then left alone";
  // The default profiles (sandbox_cgroup_only=true) never touch it.
  cgroups_.kata_overhead["sb2"] = std::nullopt;
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 4096 * kMib), 4608 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu2"].cpu_quota_us = 400000;
  Reconciler defaults = Make(CgroupMode::kEnforce);
  Round(defaults);
  defaults.Tick();
  EXPECT_FALSE(cgroups_.kata_overhead["sb2"].has_value());
}

TEST_F(ReconcilerTest, AMissingKataOverheadIsToleratedSilentlyAndOtherErrorsAreCounted) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 4096 * kMib), 4608 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu1"].cpu_quota_us = 400000;
  ReconcileSetup setup{.mode = CgroupMode::kEnforce};
  sizer::Profile p = *setup.catalog.Find("aks-kata-cc-2048");
  p.name = "no-sandbox-cgroup-only";
  p.sandbox_cgroup_only = false;
  setup.catalog.Put(p);
  ASSERT_TRUE(setup.catalog.MapHandler("kata-cc", p.name).ok());

  // No /kata_overhead/<id> (not created yet, or another runtime): kNotFound is nothing to report.
  Reconciler r = Make(setup);
  Round(r);
  r.Tick();
  EXPECT_EQ(cgroups_.overhead_calls, 2) << "asked again at every tick until it exists";
  EXPECT_EQ(r.Find("sb1")->phase, PodPhase::kApplied);
  EXPECT_FALSE(r.Find("sb1")->last_error);
  EXPECT_FALSE(Value("uvm_sizer_errors_total", {"cause=\"cgroup_write\""}));
  EXPECT_EQ(Value("uvm_sizer_cgroup_writes_total", {"result=\"error\""}), 0.0);
  EXPECT_FALSE(Logged("kata_overhead"));
  // Kata creates it: the next tick bounds it.
  cgroups_.kata_overhead["sb1"] = std::nullopt;
  r.Tick();
  EXPECT_EQ(cgroups_.kata_overhead["sb1"], r.Find("sb1")->sizing.host_memory_bytes);
  EXPECT_EQ(cgroups_.writes.size(), 1u);
  r.Tick();
  EXPECT_EQ(cgroups_.overhead_calls, 3) << "bounded: not asked again";

  // Any other failure (here: permission) is counted and logged, and the pod is not applied.
  cgroups_.overhead_error = Error{.message = "/kata_overhead/sb2/memory.limit_in_bytes: Permission denied",
                                  .code = ErrorCode::kPermission,
                                  .sys_errno = EACCES};
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 4096 * kMib), 4608 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu2"].cpu_quota_us = 400000;
  Round(r);
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"cgroup_write\""}), 1.0) << metrics_.Serialize();
  EXPECT_EQ(Value("uvm_sizer_cgroup_writes_total", {"result=\"error\""}), 1.0);
  EXPECT_EQ(Count("cannot raise kata_overhead memory limit"), 1u);
  EXPECT_NE(r.Find("sb2")->phase, PodPhase::kApplied);
  EXPECT_NE(r.Find("sb2")->last_error.value_or("").find("Permission denied"), std::string::npos);
}

TEST_F(ReconcilerTest, AKataOverheadBoundFollowsALargerHostNeed) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 4096 * kMib), 8192 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu1"].cpu_quota_us = 400000;
  cgroups_.kata_overhead["sb1"] = std::nullopt;
  ReconcileSetup setup{.mode = CgroupMode::kEnforce};
  sizer::Profile p = *setup.catalog.Find("aks-kata-cc-2048");
  p.name = "no-sandbox-cgroup-only";
  p.sandbox_cgroup_only = false;
  setup.catalog.Put(p);
  ASSERT_TRUE(setup.catalog.MapHandler("kata-cc", p.name).ok());
  Reconciler r = Make(setup);
  Round(r);
  int64_t first = *r.Find("sb1")->sizing.host_memory_bytes;
  ASSERT_EQ(cgroups_.kata_overhead["sb1"], first);
  // A reload gives the UVM 1 GiB more: the VMM's cgroup must be able to hold it, as the pod cgroup can.
  p.base_memory_mib += 1024;
  setup.catalog.Put(p);
  r.Reconfigure(setup);
  r.Tick();
  int64_t larger = *r.Find("sb1")->sizing.host_memory_bytes;
  ASSERT_GT(larger, first);
  EXPECT_EQ(cgroups_.kata_overhead["sb1"], larger) << "the bound is raised with the need, never lowered";
}

TEST_F(ReconcilerTest, DynamicProfilesFetchContainerLimits) {
  SandboxDetail d = KataCcPod("sb1", "u1", 0, 0);
  d.resources.reset();
  d.containers = {
      {.name = "a", .cpu_period = 100000, .cpu_quota = 100000, .memory_limit_in_bytes = 100 * kMib}};
  AddPod(d, 0);
  ReconcileSetup setup;
  ASSERT_TRUE(setup.catalog.MapHandler("kata-cc", "upstream-dynamic").ok());
  Reconciler r = Make(setup);
  Round(r);
  EXPECT_EQ(runtime_.container_calls, 1);
  EXPECT_EQ(r.Find("sb1")->sizing.kata.uvm->memory_mib, 2048u + 128);
  EXPECT_EQ(r.Find("sb1")->sizing.kata.uvm->vcpus, 2u);
}

// --- One reading per tick ---

TEST_F(ReconcilerTest, OneTickReadsEveryWatchedPodOnceAndNoOtherPod) {
  for (const char* uid : {"u1", "u2", "u3"})
    AddPod(KataCcPod(std::string("sb-") + uid, uid, 512 * kMib, 0), 512 * kMib);
  SandboxDetail runc = KataCcPod("sb-r", "ur", 128 * kMib, 0);
  runc.summary.runtime_handler = "runc";
  AddPod(runc, 128 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(cgroups_.reads, 4) << "a new pod is read at once, VM or not";
  EXPECT_TRUE(r.HasWatched());
  EXPECT_TRUE(r.HasUnwatchedWithCgroup());
  Round(r);
  EXPECT_EQ(cgroups_.reads, 4) << "a runtime poll reads no known pod";
  for (int tick = 1; tick <= 3; ++tick) {
    r.Tick();
    EXPECT_EQ(cgroups_.reads, 4 + 3 * tick) << "tick " << tick;
  }
  EXPECT_EQ(cgroups_.reads_by_parent["/kubepods/burstable/podur"], 1) << "the tick reads no non-VM pod";
  EXPECT_EQ(r.stats().ticks, 3u);
  EXPECT_EQ(r.stats().cgroup_reads, static_cast<uint64_t>(cgroups_.reads));
  EXPECT_EQ(r.stats().evaluations, 3u + 9u) << "every reading feeds the pressure model";
}

TEST_F(ReconcilerTest, InEnforceModeATickReadsOnceAndPatchesWhatItWrote) {
  for (const char* uid : {"u1", "u2", "u3"})
    AddPod(KataCcPod(std::string("sb-") + uid, uid, 512 * kMib, 0), 512 * kMib);
  Reconciler r = Make(CgroupMode::kEnforce);
  Round(r);
  EXPECT_EQ(cgroups_.reads, 3) << "no second read after a raise";
  ASSERT_EQ(cgroups_.writes.size(), 6u);
  // Something (the kubelet resizing the pod) puts the kubelet's values back: the next tick raises again.
  for (const char* uid : {"u1", "u2", "u3"}) {
    auto& c = cgroups_.cgroups[std::string("/kubepods/burstable/pod") + uid];
    c.memory_limit_bytes = 512 * kMib;
    c.cpu_quota_us = 175000;
  }
  r.Tick();
  EXPECT_EQ(cgroups_.reads, 6) << "3 watched pods, 3 reads, whatever was written";
  EXPECT_EQ(cgroups_.writes.size(), 12u);
  for (const char* id : {"sb-u1", "sb-u2", "sb-u3"}) {
    const PodState& pod = *r.Find(id);
    ASSERT_TRUE(pod.cgroup);
    // The reading holds the values written, not the ones read before the write.
    EXPECT_EQ(pod.cgroup->memory_limit_bytes, pod.sizing.required_cgroup_memory_bytes) << id;
    EXPECT_EQ(pod.cgroup->cpu_quota_us, 300000) << id;
    EXPECT_EQ(pod.cgroup_writes, 4u) << id;
  }
  EXPECT_EQ(Value("uvm_sizer_pod_cgroup_memory_limit_bytes", {"uid=\"u1\""}),
            static_cast<double>(*r.Find("sb-u1")->sizing.required_cgroup_memory_bytes));
}

TEST_F(ReconcilerTest, NonVmPodsAreReadAtTheReadIntervalOnly) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  SandboxDetail runc = KataCcPod("sb-r", "ur", 128 * kMib, 0);
  runc.summary.runtime_handler = "runc";
  AddPod(runc, 128 * kMib);
  ReconcileSetup setup = SetupFor(CgroupMode::kObserve);
  setup.cgroup_read_interval = 10s;
  Reconciler r = Make(setup);
  Round(r);
  const std::string vm = "/kubepods/burstable/podu1", other = "/kubepods/burstable/podur";
  ASSERT_EQ(cgroups_.reads_by_parent[other], 1);
  cgroups_.cgroups[other].memory_usage_bytes = 99 * kMib;
  now_ += 5s;
  r.ReadUsage();
  r.Tick();
  EXPECT_EQ(cgroups_.reads_by_parent[other], 1) << "not before read_interval";
  EXPECT_EQ(Value("uvm_sizer_pod_cgroup_memory_usage_bytes", {"uid=\"ur\""}), 64.0 * kMib);
  now_ += 5s;
  int vm_reads = cgroups_.reads_by_parent[vm];
  r.ReadUsage();
  EXPECT_EQ(cgroups_.reads_by_parent[other], 2);
  EXPECT_EQ(cgroups_.reads_by_parent[vm], vm_reads) << "VM pods are the tick's";
  EXPECT_EQ(Value("uvm_sizer_pod_cgroup_memory_usage_bytes", {"uid=\"ur\""}), 99.0 * kMib);
  r.ReadUsage();
  EXPECT_EQ(cgroups_.reads_by_parent[other], 2) << "once per interval";
  EXPECT_FALSE(Value("uvm_sizer_pod_uvm_vcpus", {"uid=\"ur\""}));
  EXPECT_FALSE(Value("uvm_sizer_pod_pressure_level", {"uid=\"ur\""}));
}

// --- Series lifetime ---

TEST_F(ReconcilerTest, APodRemappedToNoVmLosesEveryVmSeriesAtOnceAndKeepsItsUsage) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 0), 512 * kMib);
  // Memory stalls in pod 1: full avg10 45 % is critical.
  cgroups_.cgroups["/kubepods/burstable/podu1"].memory_full_avg10 = 45.0;
  cgroups_.cgroups["/kubepods/burstable/podu1"].oom_kills = 0;
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  r.Tick();
  ASSERT_EQ(Value("uvm_sizer_pod_pressure_level", {"uid=\"u1\""}), 2.0) << metrics_.Serialize();
  std::string before = metrics_.Serialize();
  ASSERT_EQ(fake::FamiliesWithUid(before, fake::SizingFamilies(), "u1").size(),
            fake::SizingFamilies().size());
  ASSERT_FALSE(fake::FamiliesWithUid(before, fake::UsageFamilies(), "u1").empty());

  // SIGHUP maps kata-cc nowhere: within this call, not a tick later, every UVM, overhead and pressure
  // series of its pods is gone; what the cgroup shows stays.
  ReconcileSetup next = SetupFor(CgroupMode::kObserve);
  next.catalog = WithoutKataCc();
  r.Reconfigure(next);
  std::string after = metrics_.Serialize();
  for (const char* uid : {"u1", "u2"}) {
    EXPECT_EQ(fake::FamiliesWithUid(after, fake::SizingFamilies(), uid), std::vector<std::string>{}) << uid;
    EXPECT_EQ(fake::FamiliesWithUid(after, fake::PressureFamilies(), uid), std::vector<std::string>{}) << uid;
    EXPECT_EQ(fake::FamiliesWithUid(after, fake::UsageFamilies(), uid),
              fake::FamiliesWithUid(before, fake::UsageFamilies(), uid))
        << uid;
  }
  EXPECT_EQ(metrics_.PodCount(), 2u);
  EXPECT_FALSE(r.Find("sb1")->vm_isolated());
  EXPECT_FALSE(r.Find("sb1")->pressure);
  EXPECT_FALSE(r.HasWatched());
  EXPECT_TRUE(r.HasUnwatchedWithCgroup());
  EXPECT_TRUE(Logged("handler \"kata-cc\" is no longer VM-isolated here"));
  int reads = cgroups_.reads;
  r.Tick();
  EXPECT_EQ(cgroups_.reads, reads) << "no longer watched: the tick does not read it";
  EXPECT_EQ(fake::FamiliesWithUid(metrics_.Serialize(), fake::PressureFamilies(), "u1"),
            std::vector<std::string>{});

  // Mapped back: sizing series at once, pressure series from its next observation.
  r.Reconfigure(SetupFor(CgroupMode::kObserve));
  EXPECT_EQ(fake::FamiliesWithUid(metrics_.Serialize(), fake::SizingFamilies(), "u1").size(),
            fake::SizingFamilies().size());
  r.Tick();
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level", {"uid=\"u1\""}), 2.0);
}

TEST_F(ReconcilerTest, ALateGuestAnswerForAPodThatWentOrStoppedBeingWatchedPublishesNothing) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 0), 512 * kMib);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  guest_.guests["sb2"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  ASSERT_EQ(guest_.pending.size(), 2u);
  EXPECT_FALSE(r.Find("sb1")->pressure) << "nothing until the guest answered";

  // sb1 goes; sb2's handler is remapped away. Then the shim answers both.
  runtime_.sandboxes.erase("sb1");
  Round(r);
  ReconcileSetup next = SetupFor(CgroupMode::kObserve);
  next.catalog = WithoutKataCc();
  r.Reconfigure(next);
  uint64_t generation = r.generation();
  guest_.Answer();
  EXPECT_EQ(r.stats().evaluations, 0u);
  std::string text = metrics_.Serialize();
  EXPECT_EQ(text.find("uid=\"u1\""), std::string::npos) << text;
  EXPECT_EQ(fake::FamiliesWithUid(text, fake::PressureFamilies(), "u2"), std::vector<std::string>{});
  EXPECT_FALSE(r.Find("sb2")->pressure);
  EXPECT_EQ(r.generation(), generation) << "nothing moved";
}

TEST_F(ReconcilerTest, ARecreatedSandboxDropsTheOldOnesLateAnswer) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  ASSERT_EQ(guest_.pending.size(), 1u);
  // The sandbox is replaced before the shim answered: the answer is the old VM's, not the new one's.
  runtime_.sandboxes.erase("sb1");
  SandboxDetail second = KataCcPod("sb1b", "u1", 512 * kMib, 0, /*created_at_ns=*/2);
  runtime_.sandboxes[second.summary.id] = second;
  guest_.guests["sb1b"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 100 * kMib};
  Round(r);
  ASSERT_EQ(guest_.pending.size(), 2u);
  auto old_answer = std::move(guest_.pending.front());
  guest_.pending.pop_front();
  old_answer.first(std::move(old_answer.second));
  EXPECT_EQ(r.stats().evaluations, 0u);
  EXPECT_FALSE(Value("uvm_sizer_pod_guest_memory_available_bytes", {"uid=\"u1\""}));
  guest_.Answer();
  EXPECT_EQ(r.stats().evaluations, 1u);
  EXPECT_EQ(Value("uvm_sizer_pod_guest_memory_available_bytes", {"uid=\"u1\""}), 100.0 * kMib);
}

TEST_F(ReconcilerTest, SetPortsSendsLaterReadsToTheNewPorts) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  fake::Cgroups other;
  other.cgroups["/kubepods/burstable/podu1"] = CgroupReading{.memory_usage_bytes = 77 * kMib};
  fake::Guest other_guest;
  other_guest.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  r.SetPorts(other, other_guest);
  int reads = cgroups_.reads;
  r.Tick();
  EXPECT_EQ(cgroups_.reads, reads);
  EXPECT_EQ(other.reads, 1);
  EXPECT_EQ(other_guest.fetches, 1);
  EXPECT_EQ(Value("uvm_sizer_pod_cgroup_memory_usage_bytes", {"uid=\"u1\""}), 77.0 * kMib);
  other_guest.Answer();
}

// --- Logging state follows the pods ---

TEST_F(ReconcilerTest, AGonePodsLogCausesAreForgotten) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 0), 512 * kMib);
  cgroups_.unreadable.insert("/kubepods/burstable/podu1");
  cgroups_.unreadable.insert("/kubepods/burstable/podu2");
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(log_.cause_count(), 2u);
  EXPECT_EQ(Count("cannot read its cgroup"), 2u);
  runtime_.sandboxes.erase("sb1");
  Round(r);
  EXPECT_EQ(log_.cause_count(), 1u) << "sb1's causes went with it";
  runtime_.sandboxes.clear();
  Round(r);
  EXPECT_EQ(log_.cause_count(), 0u);
}

// Kata's per-pod annotations arrive with the sandbox (CRI PodSandboxConfig.annotations); the node's Kata
// TOML says which hypervisor ones are enabled (sizer/kata_annotations.h, kata oci/utils.go addAnnotations).
TEST_F(ReconcilerTest, ASandboxIsSizedWithItsEnabledKataAnnotations) {
  SandboxDetail d = KataCcPod("sb1", "u1", 512 * kMib, 160 * kMib);
  d.summary.annotations["io.katacontainers.config.hypervisor.default_memory"] = "4096";
  d.summary.annotations["io.katacontainers.config.hypervisor.default_vcpus"] = "2";
  AddPod(d, 672 * kMib);
  ReconcileSetup setup{.mode = CgroupMode::kObserve, .host_cpus = 8};
  sizer::Profile p = *setup.catalog.Find("aks-kata-cc-2048");
  p.name = "node-kata-cc";
  p.enabled_annotations = {"default_memory", "default_vcpus"};
  setup.catalog.Put(p);
  ASSERT_TRUE(setup.catalog.MapHandler("kata-cc", p.name).ok());
  Reconciler r = Make(setup);
  Round(r);
  const PodState& pod = *r.Find("sb1");
  ASSERT_TRUE(pod.sizing.kata.uvm.has_value()) << pod.sizing.kata.refusal.value_or("");
  EXPECT_EQ(pod.sizing.kata.uvm->memory_mib, 4096u + 512);  // the annotation's base + the limit
  EXPECT_EQ(pod.sizing.kata.uvm->vcpus, 4u);                // ceil(2 + 1.5)

  // The same pod on a node that enables nothing: Kata refuses the sandbox.
  Reconciler strict = Make(CgroupMode::kObserve);
  Round(strict);
  const PodState& refused = *strict.Find("sb1");
  EXPECT_FALSE(refused.sizing.kata.uvm.has_value());
  EXPECT_EQ(refused.sizing.kata.refusal.value_or(""),
            "annotation io.katacontainers.config.hypervisor.default_memory is not enabled");
  EXPECT_TRUE(Logged("the runtime refuses sandbox sb1"));
}

TEST_F(ReconcilerTest, ASandboxCgroupOnlyAnnotationDecidesTheKataOverheadBound) {
  // runtime.sandbox_cgroup_only needs no enabling (only the hypervisor prefix is checked).
  SandboxDetail d = KataCcPod("sb1", "u1", 512 * kMib, 4096 * kMib);
  d.summary.annotations["io.katacontainers.config.runtime.sandbox_cgroup_only"] = "false";
  AddPod(d, 4608 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu1"].cpu_quota_us = 400000;
  cgroups_.kata_overhead["sb1"] = std::nullopt;
  Reconciler r = Make(CgroupMode::kEnforce);  // built-in profile: sandbox_cgroup_only = true
  Round(r);
  r.Tick();
  EXPECT_EQ(cgroups_.kata_overhead["sb1"], r.Find("sb1")->sizing.host_memory_bytes);
}

}  // namespace
}  // namespace uvm::daemon
