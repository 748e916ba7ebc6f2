#include "bench/startup/run_plan.h"

#include "bench/startup/outputs.h"

#include <gtest/gtest.h>

#include <map>

namespace uvm::startup {
namespace {

RunFlags Flags() {
  RunFlags f;
  f.cri = "unix:///tmp/x/containerd.sock";
  f.out = "/tmp/out";
  return f;
}

std::string ErrorOf(const RunFlags& f) {
  auto plan = ParseRunOptions(f);
  return plan.ok() ? std::string("(no error)") : plan.error().message;
}

TEST(RunOptions, DefaultsMakeAPlan) {
  auto plan = ParseRunOptions(Flags());
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->endpoint, "unix:///tmp/x/containerd.sock");
  EXPECT_EQ(plan->handlers, (std::vector<std::string>{"runc", "kata", "kata-cc"}));
  EXPECT_EQ(plan->mode, RunMode::kBurst);
  EXPECT_EQ(plan->levels, (std::vector<int>{1, 4, 16}));
  EXPECT_EQ(plan->call_timeout_ms, 120000);
  ASSERT_EQ(plan->sizes.size(), 1u);
  EXPECT_FALSE(plan->sizes[0].memory);
  ASSERT_TRUE(plan->budget.fraction);
  EXPECT_DOUBLE_EQ(*plan->budget.fraction, 0.7);
  EXPECT_EQ(plan->budget.Resolve(10000), 7000);
}

TEST(RunOptions, EveryBadFlagIsNamedWithItsValue) {
  auto f = Flags();
  f.levels = "1,0";
  EXPECT_EQ(ErrorOf(f), "--levels: \"0\" is not a positive integer");
  f = Flags();
  f.levels = "1,,4";
  EXPECT_NE(ErrorOf(f).find("--levels"), std::string::npos);
  f = Flags();
  f.handlers = "runc,runc";
  EXPECT_EQ(ErrorOf(f), "--handlers: \"runc\" is listed twice");
  f = Flags();
  f.mode = "bursty";
  EXPECT_EQ(ErrorOf(f), "--mode: \"bursty\" is not one of burst, closed, open");
  f = Flags();
  f.mem_limits = "none,12Q";
  EXPECT_NE(ErrorOf(f).find("--mem-limits: \"12Q\" is not a quantity"), std::string::npos);
  f = Flags();
  f.cpu_limits = "-1";
  EXPECT_EQ(ErrorOf(f), "--cpu-limits: \"-1\" must be positive (or \"none\")");
  f = Flags();
  f.overhead = "cpu=250m,disk=1Gi";
  EXPECT_NE(ErrorOf(f).find("--overhead: \"disk=1Gi\""), std::string::npos);
  f = Flags();
  f.pull = "sometimes";
  EXPECT_EQ(ErrorOf(f), "--pull: \"sometimes\" is not one of never, if-missing, always");
  f = Flags();
  f.mem_budget = "170%";
  EXPECT_NE(ErrorOf(f).find("--mem-budget: \"170%\""), std::string::npos);
  f = Flags();
  f.call_timeout = "soon";
  EXPECT_NE(ErrorOf(f).find("--call-timeout: \"soon\" is not a duration"), std::string::npos);
  f = Flags();
  f.cri = "tcp://1.2.3.4:5";
  EXPECT_NE(ErrorOf(f).find("--cri"), std::string::npos);
  f = Flags();
  f.n = 0;
  EXPECT_EQ(ErrorOf(f), "-n: \"0\" must be a positive number of pods per cell");
  f = Flags();
  f.containerd_metrics = "127.0.0.1:1338";
  EXPECT_NE(ErrorOf(f).find("--containerd-metrics"), std::string::npos);
  f = Flags();
  f.rates = "0";
  EXPECT_NE(ErrorOf(f).find("--rate: \"0\""), std::string::npos);
}

TEST(RunOptions, SizesAreTheCrossProductAndOverheadIsNormalised) {
  auto f = Flags();
  f.mem_limits = "none,256Mi,1Gi";
  f.cpu_limits = "none,1";
  f.overhead = "memory=160Mi,cpu=250m";
  f.mem_budget = "8Gi";
  f.call_timeout = "1500ms";
  auto plan = ParseRunOptions(f);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->sizes.size(), 6u);
  EXPECT_EQ(plan->sizes[3].mem_label, "256Mi");
  EXPECT_EQ(plan->sizes[3].cpu_label, "1");
  EXPECT_EQ(plan->sizes[3].memory->Value(), 256LL << 20);
  EXPECT_EQ(plan->overhead.text, "cpu=250m,memory=160Mi");
  EXPECT_FALSE(plan->budget.fraction);
  EXPECT_EQ(plan->budget.Resolve(1), 8LL << 30);
  EXPECT_EQ(plan->call_timeout_ms, 1500);
}

TEST(RunOptions, DurationsInEverySpelling) {
  EXPECT_EQ(*ParseDurationNs("--d", "120s"), 120000000000LL);
  EXPECT_EQ(*ParseDurationNs("--d", "2m"), 120000000000LL);
  EXPECT_EQ(*ParseDurationNs("--d", "1ms"), 1000000LL);
  EXPECT_EQ(*ParseDurationNs("--d", "0.5"), 500000000LL);
  EXPECT_FALSE(ParseDurationNs("--d", "0s").ok());
  EXPECT_FALSE(ParseDurationNs("--d", "").ok());
  EXPECT_FALSE(ParseDurationNs("--d", "1h").ok());
}

TEST(CgroupRoot, NeverUnderWhatTheKubeletOrSystemdOwns) {
  EXPECT_TRUE(ValidateCgroupRoot(DefaultCgroupRoot("2026-12-02-ab12")).ok());
  EXPECT_EQ(DefaultCgroupRoot("r1"), "/uvm-sizer-startup-r1");
  EXPECT_FALSE(ValidateCgroupRoot("/kubepods/bench").ok());
  EXPECT_FALSE(ValidateCgroupRoot("/kubepods.slice").ok());
  EXPECT_FALSE(ValidateCgroupRoot("/system.slice/x").ok());
  EXPECT_FALSE(ValidateCgroupRoot("/").ok());
  EXPECT_FALSE(ValidateCgroupRoot("relative").ok());
  EXPECT_FALSE(ValidateCgroupRoot("/a/../kubepods").ok());
  EXPECT_FALSE(ValidateCgroupRoot("/a//b").ok());
  EXPECT_TRUE(ValidateCgroupRoot("/bench/one").ok());
}

TEST(Schedule, BurstsInterleaveHandlersPerIterationAfterOneWarmupEach) {
  auto f = Flags();
  f.levels = "1,4";
  f.n = 4;
  auto plan = ParseRunOptions(f);
  ASSERT_TRUE(plan.ok());
  std::vector<Burst> s = BurstSchedule(*plan);
  // 3 warm-ups, then level 1: 4 iterations × 3 handlers, level 4: 1 iteration × 3 handlers.
  ASSERT_EQ(s.size(), 3u + 12u + 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(s[i].warmup);
    EXPECT_EQ(s[i].count, 1);
  }
  std::string order;
  for (size_t i = 3; i < 9; ++i) order += s[i].handler + " ";
  EXPECT_EQ(order, "runc kata kata-cc runc kata kata-cc ");
  EXPECT_EQ(s[3].iteration, 0);
  EXPECT_EQ(s[6].iteration, 1);
  EXPECT_EQ(s.back().cell_level, 4);
  EXPECT_EQ(s.back().count, 4);
  EXPECT_EQ(s.back().handler, "kata-cc");
  // Burst numbers are unique and increasing.
  for (size_t i = 1; i < s.size(); ++i) EXPECT_EQ(s[i].burst, s[i - 1].burst + 1);
  // Every handler gets n pods per cell (here exactly: the levels divide n).
  std::map<std::pair<std::string, int>, int> pods;
  for (const Burst& b : s) {
    if (!b.warmup) pods[{b.handler, b.cell_level}] += b.count;
  }
  for (const auto& [key, count] : pods) EXPECT_EQ(count, 4) << key.first << " level " << key.second;
}

TEST(Schedule, BurstsRoundUpToWholeBurstsAndSweepSizes) {
  auto f = Flags();
  f.handlers = "kata";
  f.levels = "3";
  f.n = 4;
  f.mem_limits = "none,1Gi";
  f.warmup = false;
  auto plan = ParseRunOptions(f);
  ASSERT_TRUE(plan.ok());
  std::vector<Burst> s = BurstSchedule(*plan);
  ASSERT_EQ(s.size(), 4u);  // 2 iterations of 3 per size point
  EXPECT_EQ(s[0].size_index, 0);
  EXPECT_EQ(s[2].size_index, 1);
  EXPECT_EQ(s[3].iteration, 1);
}

TEST(Schedule, OpenArrivalsAreUniform) {
  EXPECT_EQ(OpenArrivals(2, 2000000000), (std::vector<int64_t>{0, 500000000, 1000000000, 1500000000}));
  EXPECT_EQ(OpenArrivals(0.5, 3000000000).size(), 2u);
  EXPECT_TRUE(OpenArrivals(0, 1000).empty());
  auto plan = ParseRunOptions(Flags());
  EXPECT_EQ(HandlerForSequence(*plan, 0), "runc");
  EXPECT_EQ(HandlerForSequence(*plan, 4), "kata");
}

TEST(Budget, AdmitsWhileItFitsAndNeverWhatCannotFit) {
  MemoryBudget b(1000);
  EXPECT_EQ(b.TryAdmit(600), MemoryBudget::Verdict::kAdmit);
  EXPECT_EQ(b.TryAdmit(600), MemoryBudget::Verdict::kWait);
  EXPECT_EQ(b.TryAdmit(400), MemoryBudget::Verdict::kAdmit);
  EXPECT_EQ(b.in_flight(), 1000);
  EXPECT_EQ(b.TryAdmit(1001), MemoryBudget::Verdict::kNever);
  b.Release(600);
  EXPECT_EQ(b.TryAdmit(600), MemoryBudget::Verdict::kAdmit);
  b.Release(5000);
  EXPECT_EQ(b.in_flight(), 0);
}

TEST(Budget, PodCostIsPredictedHostMemoryPlusDeclaredOverhead) {
  OverheadSpec overhead{.text = "memory=160Mi", .memory = *sizer::Quantity::Parse("160Mi")};
  PredictedUvm vm{.vm_isolated = true,
                  .profile = "kata-cc-card",
                  .vcpus = 2,
                  .memory_mib = 2304,
                  .host_memory_bytes = 2500LL << 20};
  EXPECT_EQ(PodBudgetBytes(vm, 256LL << 20, overhead), (2500LL + 160) << 20);
  PredictedUvm runc;
  EXPECT_EQ(PodBudgetBytes(runc, 256LL << 20, overhead), (256LL + 160) << 20);
  EXPECT_EQ(PodBudgetBytes(runc, std::nullopt, OverheadSpec{}), 0);
}

TEST(Phases, TotalAndUnaccountedFromTheCalls) {
  PodRecord r;
  r.phase_ns[static_cast<int>(Phase::kRunPodSandbox)] = 600;
  r.phase_ns[static_cast<int>(Phase::kPodSandboxStatus)] = 10;
  r.phase_ns[static_cast<int>(Phase::kImageStatus)] = 5;
  r.phase_ns[static_cast<int>(Phase::kCreateContainer)] = 100;
  r.phase_ns[static_cast<int>(Phase::kStartContainer)] = 200;
  r.phase_ns[static_cast<int>(Phase::kRunningSeen)] = 75;
  SetTotals(r, 1000, 2000);
  EXPECT_EQ(*r.total_ns, 1000);
  EXPECT_EQ(*r.unaccounted_ns, 10);
  EXPECT_TRUE(UnaccountedWithin(r, 0.02));
  EXPECT_FALSE(UnaccountedWithin(r, 0.005));
  PodRecord failed;
  EXPECT_FALSE(UnaccountedWithin(failed, 0.02));
  EXPECT_EQ(CpuNsPerPod(1000, 4), 250);
  EXPECT_EQ(CpuNsPerPod(1000, 0), 0);
}

TEST(Sizer, PredictionIsTheSizersForTheBenchPod) {
  SizePoint size{.mem_label = "256Mi",
                 .cpu_label = "1",
                 .memory = *sizer::Quantity::Parse("256Mi"),
                 .cpu = *sizer::Quantity::Parse("1")};
  OverheadSpec overhead;
  auto pod = BenchPod("kata-cc", size, overhead);
  auto sizing = sizer::SizePod(pod, BenchSizingContext("kata-cc", overhead, 2));
  ASSERT_TRUE(sizing.ok()) << sizing.error().message;
  PredictedUvm p = PredictedFromSizing(*sizing);
  EXPECT_TRUE(p.vm_isolated);
  EXPECT_FALSE(p.profile.empty());
  EXPECT_EQ(p.vcpus, sizing->uvm->vcpus);
  EXPECT_EQ(p.memory_mib, sizing->uvm->memory_mib);
  EXPECT_GT(p.memory_mib, 256u);  // the guest OS base comes on top of the limit
  EXPECT_EQ(sizing->sandbox.memory_limit_in_bytes, 256LL << 20);
  EXPECT_EQ(sizing->sandbox.cpu_quota, 100000);

  auto runc = sizer::SizePod(BenchPod("runc", size, overhead), BenchSizingContext("runc", overhead, 2));
  ASSERT_TRUE(runc.ok());
  EXPECT_FALSE(PredictedFromSizing(*runc).vm_isolated);
}

TEST(Sizer, StandInIsAVmHandlerServedByAnythingButKata) {
  EXPECT_TRUE(IsStandIn(true, "io.containerd.runc.v2"));
  EXPECT_FALSE(IsStandIn(true, "io.containerd.kata.v2"));
  EXPECT_FALSE(IsStandIn(true, "io.containerd.kata-cc.v2"));
  EXPECT_FALSE(IsStandIn(false, "io.containerd.runc.v2"));
  EXPECT_FALSE(IsStandIn(true, ""));
  EXPECT_TRUE(IsKataRuntimeType("io.containerd.kata-qemu.v2"));
}

TEST(Cgroups, PodPathsAndMountPoints) {
  EXPECT_EQ(PodCgroupParent("/r", sizer::QosClass::kBurstable, "u1"), "/r/kubepods/burstable/podu1");
  EXPECT_EQ(PodCgroupParent("/r", sizer::QosClass::kGuaranteed, "u1"), "/r/kubepods/podu1");
  EXPECT_EQ(PodCgroupParent("/r", sizer::QosClass::kBestEffort, "u1"), "/r/kubepods/besteffort/podu1");
  const char* mountinfo =
      "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n"
      "31 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
      "32 25 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n"
      "33 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n";
  EXPECT_EQ(CgroupMountPoints(mountinfo),
            (std::vector<std::string>{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory",
                                      "/sys/fs/cgroup/cpu,cpuacct"}));
}

TEST(RunInfo, ToolCpuPerPodRoundTripsAndOlderFilesReadAsZero) {
  RunInfo info;
  info.run_id = "r1";
  info.tool_cpu_ns_per_pod = 812345;
  std::string text = RunInfoToJson(info);
  auto back = RunInfoFromJson(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->tool_cpu_ns_per_pod, 812345);
  size_t at = text.find("\"tool_cpu_ns_per_pod\"");
  ASSERT_NE(at, std::string::npos);
  std::string older = text.substr(0, at) + text.substr(text.find(',', at) + 1);
  auto old = RunInfoFromJson(older);
  ASSERT_TRUE(old.ok()) << old.error().message << "\n" << older;
  EXPECT_EQ(old->tool_cpu_ns_per_pod, 0);
}

}  // namespace
}  // namespace uvm::startup
