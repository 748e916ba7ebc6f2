// The startup profile (daemon/startup_profile.h): the pure decision, and the core acting on it against
// fake ports: each sandbox observed once with its handler and UVM bucket, never again after a resync or
// for a sandbox that predates the daemon, skips counted by reason, and the runtime asked only about the
// sandboxes still unsettled.
#include "daemon/startup_profile.h"

#include <gtest/gtest.h>

#include "daemon/reconciler.h"
#include "fake_ports.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

using fake::kMib;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'800'000'000 * kSecond;  // the daemon's start, Unix ns

TEST(StartupProfile, BucketsThePredictedUvmMemoryIntoFixedRanges) {
  EXPECT_EQ(UvmMemoryBucket(std::nullopt), "none");
  EXPECT_EQ(UvmMemoryBucket(256), "<=512Mi");
  EXPECT_EQ(UvmMemoryBucket(512), "<=512Mi");
  EXPECT_EQ(UvmMemoryBucket(513), "<=1Gi");
  EXPECT_EQ(UvmMemoryBucket(1024), "<=1Gi");
  EXPECT_EQ(UvmMemoryBucket(2048), "<=2Gi");
  EXPECT_EQ(UvmMemoryBucket(2560), "<=4Gi");
  EXPECT_EQ(UvmMemoryBucket(8192), "<=8Gi");
  EXPECT_EQ(UvmMemoryBucket(8193), ">8Gi");
}

TEST(StartupProfile, ObservesTheSpanFromSandboxCreatedToFirstContainerStarted) {
  SandboxStartFacts f{.sandbox_created_at_ns = kT0 + kSecond,
                      .first_container_started_at_ns = kT0 + kSecond + 2'500'000'000,
                      .watch_since_ns = kT0,
                      .now_ns = kT0 + 4 * kSecond};
  EXPECT_EQ(DecideSandboxStart(f), (StartDecision{.verdict = StartVerdict::kObserve, .seconds = 2.5}));
  f.first_container_started_at_ns = f.sandbox_created_at_ns;  // same ns: 0 s is a start, not skew
  EXPECT_EQ(DecideSandboxStart(f).verdict, StartVerdict::kObserve);
}

TEST(StartupProfile, WaitsUntilAContainerStartsAndGivesUpAfterAnHour) {
  SandboxStartFacts f{.sandbox_created_at_ns = kT0 + kSecond,
                      .first_container_started_at_ns = std::nullopt,
                      .watch_since_ns = kT0,
                      .now_ns = kT0 + 10 * kSecond};
  EXPECT_EQ(DecideSandboxStart(f).verdict, StartVerdict::kWait);
  f.now_ns = f.sandbox_created_at_ns + kMaxPlausibleStartNs;
  EXPECT_EQ(DecideSandboxStart(f).verdict, StartVerdict::kWait);
  f.now_ns += 1;
  EXPECT_EQ(DecideSandboxStart(f),
            (StartDecision{.verdict = StartVerdict::kSkip, .reason = "never_started"}));
}

TEST(StartupProfile, SandboxesFromBeforeTheDaemonOrWithoutCreatedAtAreIgnored) {
  SandboxStartFacts f{.sandbox_created_at_ns = kT0 - 1,
                      .first_container_started_at_ns = kT0 + kSecond,
                      .watch_since_ns = kT0,
                      .now_ns = kT0 + 2 * kSecond};
  EXPECT_EQ(DecideSandboxStart(f).verdict, StartVerdict::kIgnore);
  f.sandbox_created_at_ns = 0;
  f.watch_since_ns = 0;
  EXPECT_EQ(DecideSandboxStart(f).verdict, StartVerdict::kIgnore);
  EXPECT_TRUE(StartWatchable(kT0, kT0));
  EXPECT_FALSE(StartWatchable(kT0 - 1, kT0));
}

TEST(StartupProfile, ClockSanity) {
  SandboxStartFacts f{.sandbox_created_at_ns = kT0 + 5 * kSecond,
                      .first_container_started_at_ns = kT0 + 4 * kSecond,
                      .watch_since_ns = kT0,
                      .now_ns = kT0 + 6 * kSecond};
  EXPECT_EQ(DecideSandboxStart(f), (StartDecision{.verdict = StartVerdict::kSkip, .reason = "clock_skew"}));
  f.first_container_started_at_ns = f.sandbox_created_at_ns + kMaxPlausibleStartNs + 1;
  EXPECT_EQ(DecideSandboxStart(f), (StartDecision{.verdict = StartVerdict::kSkip, .reason = "implausible"}));
  f.first_container_started_at_ns = f.sandbox_created_at_ns + kMaxPlausibleStartNs;
  EXPECT_EQ(DecideSandboxStart(f).verdict, StartVerdict::kObserve);
}

TEST(StartupProfile, ShimCreateIsTheSandboxsOnlyWhileItIsTheShimsOnlyCreate) {
  EXPECT_EQ(DecideShimCreate(ShimCreateTotals{.sum_ms = 1234, .count = 1}),
            (StartDecision{.verdict = StartVerdict::kObserve, .seconds = 1.234}));
  EXPECT_EQ(DecideShimCreate(ShimCreateTotals{.sum_ms = 1300, .count = 2}),
            (StartDecision{.verdict = StartVerdict::kSkip, .reason = "shim_create_ambiguous"}));
  EXPECT_EQ(DecideShimCreate(std::nullopt),
            (StartDecision{.verdict = StartVerdict::kSkip, .reason = "shim_create_absent"}));
  EXPECT_EQ(DecideShimCreate(ShimCreateTotals{.sum_ms = -1, .count = 1}).reason, "shim_create_invalid");
  EXPECT_EQ(DecideShimCreate(ShimCreateTotals{.sum_ms = 0, .count = 0}).verdict, StartVerdict::kWait);
}

TEST(StartupProfile, KataRuntimeTypes) {
  EXPECT_TRUE(IsKataRuntimeType("io.containerd.kata.v2"));
  EXPECT_TRUE(IsKataRuntimeType("io.containerd.kata-qemu.v2"));
  EXPECT_TRUE(IsKataRuntimeType("io.containerd.kata-cc.v2"));
  EXPECT_FALSE(IsKataRuntimeType("io.containerd.runc.v2"));
  EXPECT_FALSE(IsKataRuntimeType("io.containerd.katana.v1"));
  EXPECT_FALSE(IsKataRuntimeType(""));
}

class StartupProfileCore : public ::testing::Test {
 protected:
  StartupProfileCore()
      : log_(
            Priority::kDebug, [](std::string_view) {}, [this] { return now_; }) {}

  std::unique_ptr<Reconciler> Make() {
    return std::make_unique<Reconciler>(
        ReconcileSetup{}, cgroups_, guest_, metrics_, log_, nullptr, [this] { return now_; },
        [this] { return wall_; });
  }
  void Round(Reconciler& r, bool full = false) {
    r.Apply(FetchRuntime(runtime_, r.InspectedIds(), full, r.DynamicHandlers(), r.VmHandlers(),
                         r.StartQueryNow()));
  }
  // A kata-cc pod (UVM 2560 MiB: "<=4Gi") created at `created_at_ns`, with its pod cgroup.
  SandboxDetail& AddPod(const std::string& id, int64_t created_at_ns, const std::string& handler = "kata-cc",
                        const std::string& runtime_type = "io.containerd.runc.v2") {
    auto d = fake::KataCcPod(id, "uid-" + id, 512 * kMib, 160 * kMib, created_at_ns);
    d.summary.runtime_handler = handler;
    d.runtime_type = runtime_type;
    runtime_.sandboxes[id] = d;
    cgroups_.cgroups[d.cgroup_parent] = CgroupReading{.memory_limit_bytes = 672 * kMib,
                                                      .memory_usage_bytes = 64 * kMib,
                                                      .cpu_quota_us = 175000,
                                                      .cpu_period_us = 100000};
    return runtime_.sandboxes[id];
  }
  std::optional<double> Value(const std::string& name, const std::vector<std::string>& labels) const {
    return fake::Series(metrics_.Serialize(), name, labels);
  }
  double StartCount(const std::string& handler, const std::string& bucket) const {
    return Value("uvm_sizer_sandbox_start_seconds_count",
                 {"runtime_handler=\"" + handler + "\"", "uvm_memory_bucket=\"" + bucket + "\""})
        .value_or(0);
  }
  double Skipped(const std::string& reason) const {
    return Value("uvm_sizer_sandbox_start_skipped_total", {"reason=\"" + reason + "\""}).value_or(0);
  }
  bool Asked(const std::string& id) const {
    return !runtime_.asked_starts.empty() && runtime_.asked_starts.back().count(id) > 0;
  }

  fake::Runtime runtime_;
  fake::Cgroups cgroups_;
  fake::Guest guest_;  // answers wait for Answer()
  metrics::DaemonMetrics metrics_{"test", "node-1"};
  Reconciler::Clock::time_point now_{std::chrono::hours(1000)};
  int64_t wall_ = kT0;
  Logger log_;
};

TEST_F(StartupProfileCore, ObservesEachSandboxOnceWhenItsFirstContainerStartsAndStopsAsking) {
  auto r = Make();
  AddPod("a", kT0 + kSecond);
  wall_ = kT0 + 2 * kSecond;
  Round(*r);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 0);
  EXPECT_TRUE(Asked("a"));
  runtime_.started_at["a"] = kT0 + 4 * kSecond;
  Round(*r);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 1);
  EXPECT_EQ(Value("uvm_sizer_sandbox_start_seconds_sum", {"runtime_handler=\"kata-cc\""}), 3.0);
  EXPECT_EQ(Value("uvm_sizer_sandbox_start_seconds_bucket", {"runtime_handler=\"kata-cc\"", "le=\"3\""}),
            1.0);
  EXPECT_EQ(Value("uvm_sizer_sandbox_start_seconds_bucket", {"runtime_handler=\"kata-cc\"", "le=\"2\""}),
            0.0);
  EXPECT_TRUE(Value("uvm_sizer_sandbox_start_seconds_count", {"node=\"node-1\""}).has_value());
  int calls = runtime_.start_calls;
  for (int i = 0; i < 3; ++i) Round(*r, /*full=*/i == 1);
  r->Tick();
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 1);
  EXPECT_EQ(runtime_.start_calls, calls) << "a settled sandbox is not asked about again";
  EXPECT_EQ(r->Find("a")->start_seconds, 3.0);
}

TEST_F(StartupProfileCore, LabelsByHandlerAndBucketAndGivesNonVmPodsBucketNone) {
  auto r = Make();
  AddPod("vm", kT0 + kSecond);
  AddPod("plain", kT0 + kSecond, "runc");
  runtime_.started_at["vm"] = kT0 + 2 * kSecond;
  runtime_.started_at["plain"] = kT0 + kSecond + 300'000'000;
  wall_ = kT0 + 3 * kSecond;
  Round(*r);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 1);
  EXPECT_EQ(StartCount("runc", "none"), 1);
  EXPECT_EQ(Value("uvm_sizer_sandbox_start_seconds_sum", {"runtime_handler=\"runc\""}), 0.3);
}

TEST_F(StartupProfileCore, SandboxesFromBeforeTheDaemonAreNeitherCountedNorAsked) {
  AddPod("old", kT0 - 10 * kSecond);
  runtime_.started_at["old"] = kT0 - 8 * kSecond;
  auto r = Make();
  wall_ = kT0 + kSecond;
  Round(*r);
  Round(*r, true);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 0);
  EXPECT_EQ(runtime_.start_calls, 0);
  EXPECT_EQ(Skipped("clock_skew") + Skipped("implausible") + Skipped("never_started"), 0);
}

TEST_F(StartupProfileCore, ARestartedDaemonDoesNotCountWhatTheFirstOneCounted) {
  auto first = Make();
  AddPod("a", kT0 + kSecond);
  runtime_.started_at["a"] = kT0 + 2 * kSecond;
  wall_ = kT0 + 3 * kSecond;
  Round(*first);
  ASSERT_EQ(StartCount("kata-cc", "<=4Gi"), 1);
  first.reset();
  // The restarted daemon's metrics start at zero; it sees "a" already running.
  metrics::DaemonMetrics fresh{"test", "node-1"};
  Reconciler second(
      ReconcileSetup{}, cgroups_, guest_, fresh, log_, nullptr, [this] { return now_; },
      [this] { return wall_; });
  second.Apply(FetchRuntime(runtime_, second.InspectedIds(), true, second.DynamicHandlers(),
                            second.VmHandlers(), second.StartQueryNow()));
  EXPECT_FALSE(fake::Series(fresh.Serialize(), "uvm_sizer_sandbox_start_seconds_count", {}).has_value());
  AddPod("b", kT0 + 4 * kSecond);
  runtime_.started_at["b"] = kT0 + 5 * kSecond;
  wall_ = kT0 + 6 * kSecond;
  second.Apply(FetchRuntime(runtime_, second.InspectedIds(), false, second.DynamicHandlers(),
                            second.VmHandlers(), second.StartQueryNow()));
  EXPECT_EQ(fake::Series(fresh.Serialize(), "uvm_sizer_sandbox_start_seconds_count", {"kata-cc"}), 1.0);
}

TEST_F(StartupProfileCore, SkipsAreCountedByReasonOnceAndNeverObserved) {
  auto r = Make();
  AddPod("skew", kT0 + 5 * kSecond);
  runtime_.started_at["skew"] = kT0 + 4 * kSecond;
  AddPod("slow", kT0 + kSecond);
  runtime_.started_at["slow"] = kT0 + kSecond + kMaxPlausibleStartNs + kSecond;
  AddPod("stuck", kT0 + kSecond);
  wall_ = kT0 + 6 * kSecond;
  Round(*r);
  EXPECT_EQ(Skipped("clock_skew"), 1);
  EXPECT_EQ(Skipped("implausible"), 1);
  EXPECT_EQ(Skipped("never_started"), 0);
  Round(*r);
  EXPECT_TRUE(Asked("stuck"));
  EXPECT_FALSE(Asked("skew")) << "settled at the first round";
  wall_ = kT0 + kSecond + kMaxPlausibleStartNs + kSecond;
  Round(*r);
  Round(*r);
  EXPECT_EQ(Skipped("never_started"), 1);
  EXPECT_EQ(Skipped("clock_skew"), 1);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 0);
  int calls = runtime_.start_calls;
  Round(*r);
  EXPECT_EQ(runtime_.start_calls, calls) << "every sandbox is settled: nothing to ask";
}

TEST_F(StartupProfileCore, ASandboxGoneBeforeItsContainerStartedIsNeverObserved) {
  auto r = Make();
  AddPod("short", kT0 + kSecond);
  wall_ = kT0 + 2 * kSecond;
  Round(*r);
  runtime_.sandboxes.erase("short");
  int calls = runtime_.start_calls;
  Round(*r);
  EXPECT_EQ(r->Find("short"), nullptr);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 0);
  EXPECT_EQ(runtime_.start_calls, calls) << "nothing left to ask about";
}

TEST_F(StartupProfileCore, AFailedContainerListingIsAnErrorAndTheStartIsObservedAtTheNextPoll) {
  auto r = Make();
  AddPod("a", kT0 + kSecond);
  runtime_.started_at["a"] = kT0 + 2 * kSecond;
  wall_ = kT0 + 3 * kSecond;
  runtime_.starts_fail = true;
  Round(*r);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 0);
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"cri_container_starts\""}), 1.0);
  runtime_.starts_fail = false;
  Round(*r);
  EXPECT_EQ(StartCount("kata-cc", "<=4Gi"), 1);
}

TEST_F(StartupProfileCore, TheKataShimsCreateIsObservedOnceFromItsFirstAnswer) {
  auto r = Make();
  AddPod("kata", kT0 + kSecond, "kata-cc", "io.containerd.kata.v2");
  AddPod("late", kT0 + kSecond, "kata-cc", "io.containerd.kata-qemu.v2");
  AddPod("runc", kT0 + kSecond, "kata-cc", "io.containerd.runc.v2");
  sizer::GuestObservation g{.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1024 * kMib};
  g.shim_create_sum_ms = 1750;
  g.shim_create_count = 1;
  guest_.guests["kata"] = g;
  g.shim_create_count = 2;  // the first container's create is already in the sum
  guest_.guests["late"] = g;
  guest_.guests["runc"] = g;
  wall_ = kT0 + 2 * kSecond;
  Round(*r);  // discovered: observed at once
  guest_.Answer();
  r->Tick();
  guest_.Answer();
  EXPECT_EQ(Value("uvm_sizer_sandbox_shim_create_seconds_count",
                  {"runtime_handler=\"kata-cc\"", "uvm_memory_bucket=\"<=4Gi\""}),
            1.0);
  EXPECT_EQ(Value("uvm_sizer_sandbox_shim_create_seconds_sum", {"runtime_handler=\"kata-cc\""}), 1.75);
  EXPECT_EQ(Skipped("shim_create_ambiguous"), 1) << "one for \"late\"; \"runc\" has no Kata shim";
}

}  // namespace
}  // namespace uvm::daemon
