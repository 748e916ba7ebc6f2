// The reconcile state machine against fake ports: the runtime and cgroup faults a real machine cannot be
// made to produce on demand.
#include "daemon/reconciler.h"

#include <gtest/gtest.h>

#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

constexpr int64_t kMib = 1 << 20;

class FakeRuntime : public RuntimePort {
 public:
  Result<std::vector<SandboxSummary>> ListSandboxes() override {
    ++list_calls;
    if (down) return Error{"connection refused"};
    std::vector<SandboxSummary> out;
    for (const auto& [id, d] : sandboxes) out.push_back(d.summary);
    return out;
  }
  Result<SandboxDetail> InspectSandbox(const SandboxSummary& s) override {
    ++inspect_calls;
    if (inspect_fails.count(s.id)) return Error{"rpc error: deadline exceeded"};
    return sandboxes.at(s.id);
  }
  Result<std::vector<sizer::ContainerResources>> ContainerLimits(const std::string& id) override {
    ++container_calls;
    return sandboxes.at(id).containers;
  }
  Result<std::optional<int64_t>> WritableLayerBytes(const std::string& id) override {
    ++stats_calls;
    if (auto it = writable.find(id); it != writable.end()) return std::optional<int64_t>(it->second);
    return std::optional<int64_t>();
  }
  std::map<std::string, SandboxDetail> sandboxes;
  std::map<std::string, int64_t> writable;
  int stats_calls = 0;
  std::set<std::string> inspect_fails;
  bool down = false;
  int list_calls = 0, inspect_calls = 0, container_calls = 0;
};

class FakeCgroups : public CgroupPort {
 public:
  Result<CgroupReading> ReadPod(const std::string& parent, const std::string& uid) override {
    if (parent.find(uid) == std::string::npos) return Error{"another pod's cgroup"};
    if (unreadable.count(parent)) return Error{"ENOENT"};
    return cgroups[parent];
  }
  Result<WriteOutcome> RaiseMemoryLimit(const std::string& parent, int64_t bytes) override {
    if (write_fails) return Error{"EBUSY"};
    auto& c = cgroups[parent];
    WriteOutcome out{.before = c.memory_limit_bytes};
    if (!c.memory_limit_bytes || *c.memory_limit_bytes >= bytes) return out;
    c.memory_limit_bytes = bytes;
    out.written = true;
    out.after = bytes;
    writes.push_back(parent + " memory " + std::to_string(bytes));
    return out;
  }
  Result<WriteOutcome> RaiseCpuQuota(const std::string& parent, int64_t quota, int64_t period) override {
    auto& c = cgroups[parent];
    WriteOutcome out{.before = c.cpu_quota_us};
    if (!c.cpu_quota_us || *c.cpu_quota_us >= quota) return out;
    c.cpu_quota_us = quota;
    c.cpu_period_us = period;
    out.written = true;
    out.after = quota;
    writes.push_back(parent + " cpu " + std::to_string(quota));
    return out;
  }
  Result<WriteOutcome> BoundKataOverhead(const std::string& id, int64_t bytes) override {
    if (!kata_overhead.count(id)) return Error{"kata_overhead/" + id + ": No such file or directory"};
    auto& limit = kata_overhead[id];
    if (limit && *limit >= bytes) return WriteOutcome{.before = limit, .after = limit};
    WriteOutcome out{.written = true, .before = limit, .after = bytes};
    limit = bytes;
    writes.push_back("kata_overhead/" + id + " memory " + std::to_string(bytes));
    return out;
  }
  std::map<std::string, std::optional<int64_t>> kata_overhead;
  std::map<std::string, CgroupReading> cgroups;
  std::set<std::string> unreadable;
  std::vector<std::string> writes;
  bool write_fails = false;
};

SandboxDetail KataCcPod(const std::string& id, const std::string& uid, int64_t limit_bytes,
                        int64_t declared_bytes) {
  SandboxDetail d;
  d.summary = {.id = id,
               .name = "web-" + uid,
               .namespace_ = "default",
               .uid = uid,
               .runtime_handler = "kata-cc",
               .ready = true};
  d.cgroup_parent = "/kubepods/burstable/pod" + uid;
  d.resources = sizer::SandboxResources{100000, 150000, 1536, limit_bytes};
  d.overhead = sizer::SandboxResources{100000, 25000, 256, declared_bytes};
  return d;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() : log_(Priority::kDebug, [this](std::string_view l) { lines_.emplace_back(l); }) {}

  Reconciler Make(CgroupMode mode) {
    return Reconciler(ReconcileSetup{.mode = mode}, cgroups_, metrics_, log_);
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
  bool Logged(std::string_view fragment) const {
    return std::any_of(lines_.begin(), lines_.end(),
                       [&](const auto& l) { return l.find(fragment) != l.npos; });
  }

  FakeRuntime runtime_;
  FakeCgroups cgroups_;
  metrics::DaemonMetrics metrics_{"test"};
  std::vector<std::string> lines_;
  Logger log_;
};

TEST_F(ReconcilerTest, SizesANewPodOnceAndPublishesItsSeries) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 160 * kMib), 672 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  ASSERT_EQ(r.pods().size(), 1u);
  const PodRecord& pod = r.pods().at("sb1");
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
  Round(r);
  EXPECT_TRUE(cgroups_.writes.empty());
  EXPECT_EQ(*cgroups_.cgroups["/kubepods/burstable/podu1"].memory_limit_bytes, 672 * kMib);
}

TEST_F(ReconcilerTest, EnforceModeRaisesOnceToTheHostNeedAndTheVcpus) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 160 * kMib), 672 * kMib);
  Reconciler r = Make(CgroupMode::kEnforce);
  Round(r);
  const PodRecord& pod = r.pods().at("sb1");
  ASSERT_EQ(cgroups_.writes.size(), 2u);
  EXPECT_EQ(*cgroups_.cgroups["/kubepods/burstable/podu1"].memory_limit_bytes, *pod.sizing.host_memory_bytes);
  EXPECT_EQ(*cgroups_.cgroups["/kubepods/burstable/podu1"].cpu_quota_us,
            300000);  // ceil(1 + 1.5) vCPUs x 100 ms
  EXPECT_EQ(pod.phase, PodPhase::kApplied);
  EXPECT_TRUE(Logged("raised memory limit of /kubepods/burstable/podu1 from 704643072 to"));
  Round(r);
  Round(r, true);
  EXPECT_EQ(cgroups_.writes.size(), 2u);  // idempotent: nothing written twice

  // A restarted daemon (a new reconciler) rebuilds the same state and writes nothing.
  Reconciler again = Make(CgroupMode::kEnforce);
  Round(again);
  EXPECT_EQ(cgroups_.writes.size(), 2u);
  EXPECT_EQ(again.pods().at("sb1").phase, PodPhase::kApplied);
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
  EXPECT_TRUE(cgroups_.writes.empty()) << cgroups_.writes.front();
  EXPECT_FALSE(r.pods().at("sb3").profile);
  std::string text = metrics_.Serialize();
  EXPECT_EQ(text.find("uvm_sizer_pod_uvm_vcpus{namespace=\"default\",pod=\"web-u3\""), std::string::npos);
}

TEST_F(ReconcilerTest, GonePodsLoseTheirSeriesAndARecreatedSandboxKeepsItsOwn) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 0), 512 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(metrics_.PodCount(), 2u);
  runtime_.sandboxes.erase("sb2");
  Round(r);
  EXPECT_EQ(metrics_.PodCount(), 1u);
  EXPECT_EQ(metrics_.Serialize().find("uid=\"u2\""), std::string::npos);
  // Pod u1's sandbox is recreated (attempt 1): the old one stops, the new one keeps the series.
  SandboxDetail second = KataCcPod("sb1b", "u1", 512 * kMib, 0);
  AddPod(second, 512 * kMib);
  runtime_.sandboxes["sb1"].summary.ready = false;
  Round(r);
  EXPECT_EQ(r.pods().count("sb1"), 0u);
  EXPECT_EQ(metrics_.PodCount(), 1u);
  EXPECT_NE(metrics_.Serialize().find("uid=\"u1\""), std::string::npos);
}

TEST_F(ReconcilerTest, RuntimeDownKeepsStateAndInspectFailuresRetry) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  runtime_.inspect_fails.insert("sb1");
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(r.pods().at("sb1").phase, PodPhase::kDiscovered);
  EXPECT_TRUE(r.pods().at("sb1").last_error.has_value());
  runtime_.inspect_fails.clear();
  Round(r);
  EXPECT_EQ(r.pods().at("sb1").phase, PodPhase::kSized);
  runtime_.down = true;
  Round(r);
  EXPECT_EQ(r.pods().size(), 1u);  // a runtime outage is not every pod gone
  EXPECT_EQ(metrics_.PodCount(), 1u);
}

TEST_F(ReconcilerTest, AWriteFailureIsCountedAndLoggedOnceAMinute) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  cgroups_.write_fails = true;
  Reconciler r = Make(CgroupMode::kEnforce);
  Round(r);
  Round(r);
  Round(r);
  EXPECT_NE(metrics_.Serialize().find("uvm_sizer_cgroup_writes_total{result=\"error\"} 3"), std::string::npos)
      << metrics_.Serialize();
  EXPECT_EQ(std::count_if(lines_.begin(), lines_.end(),
                          [](const auto& l) { return l.find("cannot raise memory limit") != l.npos; }),
            1);
  EXPECT_NE(r.pods().at("sb1").phase, PodPhase::kApplied);
}

TEST_F(ReconcilerTest, ReconfigureResizesEveryPod) {
  AddPod(KataCcPod("sb1", "u1", 512 * kMib, 0), 512 * kMib);
  Reconciler r = Make(CgroupMode::kObserve);
  Round(r);
  EXPECT_EQ(r.pods().at("sb1").sizing.kata.uvm->memory_mib, 2560u);
  ReconcileSetup next;
  ASSERT_TRUE(next.catalog.MapHandler("kata-cc", "aks-2025").ok());
  r.Reconfigure(next);
  EXPECT_EQ(r.pods().at("sb1").profile.value_or(""), "aks-2025");
  EXPECT_EQ(r.pods().at("sb1").sizing.kata.uvm->memory_mib, 512u);
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
  EXPECT_FALSE(r.pods().at("sb1").writable_layer_bytes);
  Round(r, /*full=*/true);
  EXPECT_EQ(runtime_.stats_calls, 1);  // the runc pod is not asked
  EXPECT_EQ(r.pods().at("sb1").writable_layer_bytes, 5 * kMib);
  runtime_.writable["sb1"] = 9 * kMib;
  Round(r);
  EXPECT_EQ(r.pods().at("sb1").writable_layer_bytes, 5 * kMib);  // kept until the next full resync
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
  Reconciler r(setup, cgroups_, metrics_, log_);
  Round(r);
  Round(r);
  ASSERT_EQ(cgroups_.writes.size(), 1u) << cgroups_.writes.front();
  EXPECT_EQ(cgroups_.kata_overhead["sb1"], r.pods().at("sb1").sizing.host_memory_bytes);
  // The default profiles (sandbox_cgroup_only=true) never touch it.
  cgroups_.kata_overhead["sb2"] = std::nullopt;
  AddPod(KataCcPod("sb2", "u2", 512 * kMib, 4096 * kMib), 4608 * kMib);
  cgroups_.cgroups["/kubepods/burstable/podu2"].cpu_quota_us = 400000;
  Reconciler defaults = Make(CgroupMode::kEnforce);
  Round(defaults);
  EXPECT_FALSE(cgroups_.kata_overhead["sb2"].has_value());
}

TEST_F(ReconcilerTest, DynamicProfilesFetchContainerLimits) {
  SandboxDetail d = KataCcPod("sb1", "u1", 0, 0);
  d.resources.reset();
  d.containers = {
      {.name = "a", .cpu_period = 100000, .cpu_quota = 100000, .memory_limit_in_bytes = 100 * kMib}};
  AddPod(d, 0);
  ReconcileSetup setup;
  ASSERT_TRUE(setup.catalog.MapHandler("kata-cc", "upstream-dynamic").ok());
  Reconciler r(setup, cgroups_, metrics_, log_);
  Round(r);
  EXPECT_EQ(runtime_.container_calls, 1);
  EXPECT_EQ(r.pods().at("sb1").sizing.kata.uvm->memory_mib, 2048u + 128);
  EXPECT_EQ(r.pods().at("sb1").sizing.kata.uvm->vcpus, 2u);
}

}  // namespace
}  // namespace uvm::daemon
