#include "bench/startup/kata_probe.h"

#include <gtest/gtest.h>

namespace uvm::startup {
namespace {

using namespace std::string_literals;

// Shaped like a Kata 3.x shim's /metrics (shim_metrics.go, sandbox_metrics.go): histograms in ms.
constexpr const char* kShimMetrics =
    R"(# HELP kata_shim_rpc_durations_histogram_milliseconds RPC latency distributions.
# TYPE kata_shim_rpc_durations_histogram_milliseconds histogram
kata_shim_rpc_durations_histogram_milliseconds_bucket{action="create",le="512"} 0
kata_shim_rpc_durations_histogram_milliseconds_bucket{action="create",le="+Inf"} 1
kata_shim_rpc_durations_histogram_milliseconds_sum{action="create"} 1843
kata_shim_rpc_durations_histogram_milliseconds_count{action="create"} 1
kata_shim_rpc_durations_histogram_milliseconds_sum{action="start"} 12
kata_shim_rpc_durations_histogram_milliseconds_count{action="start"} 2
# HELP kata_shim_agent_rpc_durations_histogram_milliseconds RPC latency distributions.
# TYPE kata_shim_agent_rpc_durations_histogram_milliseconds histogram
kata_shim_agent_rpc_durations_histogram_milliseconds_sum{action="grpc.CreateSandboxRequest"} 35
kata_shim_agent_rpc_durations_histogram_milliseconds_count{action="grpc.CreateSandboxRequest"} 1
kata_shim_agent_rpc_durations_histogram_milliseconds_sum{action="grpc.CreateContainerRequest"} 41
kata_shim_agent_rpc_durations_histogram_milliseconds_sum{action="grpc.StartContainerRequest"} 7
)";

TEST(KataProbe, ShimMetricsGiveCreateAndAgentSums) {
  auto k = KataTimingsFromShimMetrics(kShimMetrics);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_DOUBLE_EQ(*k->shim_create_ms, 1843);
  EXPECT_DOUBLE_EQ(*k->agent_create_sandbox_ms, 35);
  EXPECT_DOUBLE_EQ(*k->agent_create_container_ms, 41);
  EXPECT_DOUBLE_EQ(*k->agent_start_container_ms, 7);
  auto empty = KataTimingsFromShimMetrics("go_goroutines 12\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->shim_create_ms);
  EXPECT_FALSE(KataTimingsFromShimMetrics("kata_shim{ 1\n").ok());
}

TEST(KataProbe, ProcStatStartTimeIsField22EvenWithParenthesesInComm) {
  // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime vsize ...
  std::string stat =
      "4242 (qemu (x) sys) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 987654 "
      "123456 789 18446744073709551615\n";
  auto ticks = ProcStartTicks(stat);
  ASSERT_TRUE(ticks.ok()) << ticks.error().message;
  EXPECT_EQ(*ticks, 987654u);
  EXPECT_FALSE(ProcStartTicks("4242 (short) S 1 2").ok());
  EXPECT_FALSE(ProcStartTicks("no parens").ok());
}

TEST(KataProbe, QemuCommandLineGivesTheVmSize) {
  std::string cmd =
      "/opt/kata/bin/qemu-system-x86_64\0-name\0sandbox-abc\0-m\0002304M,slots=10,maxmem=9000M\0"
      "-smp\0002,cores=1,threads=1,sockets=8,maxcpus=8\0-kernel\0/k\0"s;
  ASSERT_TRUE(IsVmmCommandLine(cmd));
  auto uvm = ObservedUvmFromCommandLine(cmd);
  ASSERT_TRUE(uvm);
  EXPECT_EQ(uvm->memory_mib, 2304u);
  EXPECT_EQ(uvm->vcpus, 2u);
  EXPECT_EQ(uvm->source, "qemu -m/-smp");
  auto gib = ObservedUvmFromCommandLine("qemu-system-x86_64\0-m\0size=2G\0-smp\0cpus=3\0"s);
  ASSERT_TRUE(gib);
  EXPECT_EQ(gib->memory_mib, 2048u);
  EXPECT_EQ(gib->vcpus, 3u);
}

TEST(KataProbe, CloudHypervisorCommandLineGivesTheVmSize) {
  std::string cmd =
      "/usr/bin/cloud-hypervisor\0--api-socket\0/run/vc/x/clh-api.sock\0--cpus\0boot=1,max=4\0"
      "--memory=size=768M,shared=on\0--kernel\0/k\0"s;
  auto uvm = ObservedUvmFromCommandLine(cmd);
  ASSERT_TRUE(uvm);
  EXPECT_EQ(uvm->memory_mib, 768u);
  EXPECT_EQ(uvm->vcpus, 1u);
}

TEST(KataProbe, OtherProgramsAreNotVmms) {
  std::string pause = "/pause\0"s;
  EXPECT_FALSE(IsVmmCommandLine(pause));
  EXPECT_FALSE(ObservedUvmFromCommandLine(pause));
  EXPECT_FALSE(IsVmmCommandLine(""));
  EXPECT_TRUE(IsVmmCommandLine("/usr/bin/firecracker\0--api-sock\0x\0"s));
  EXPECT_FALSE(ObservedUvmFromCommandLine("/usr/bin/firecracker\0"s));  // sized over its API
}

TEST(KataProbe, MemRampThresholdsOfThePredictedUvm) {
  std::vector<std::pair<int64_t, uint64_t>> s = {{10, 100}, {20, 400}, {30, 600}, {40, 950}, {50, 900}};
  MemRamp m = MemRampOf(s, 1000);
  EXPECT_EQ(*m.t50_ns, 30);
  EXPECT_EQ(*m.t90_ns, 40);
  EXPECT_EQ(m.peak_bytes, 950u);
  MemRamp low = MemRampOf({{10, 100}}, 1000);
  EXPECT_FALSE(low.t50_ns);
  EXPECT_FALSE(low.t90_ns);
  EXPECT_EQ(low.peak_bytes, 100u);
}

TEST(KataProbe, EnvironmentParsers) {
  EXPECT_EQ(CpuModelFromCpuinfo("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum\nflags\t: fpu\n"),
            "Intel(R) Xeon(R) Platinum");
  EXPECT_EQ(CpuModelFromCpuinfo("processor : 0\n"), "");
  const char* meminfo = "MemTotal:        8000000 kB\nMemFree:  100 kB\nMemAvailable:    4000000 kB\n";
  EXPECT_EQ(*MeminfoBytes(meminfo, "MemAvailable"), 4000000LL * 1024);
  EXPECT_EQ(*MeminfoBytes(meminfo, "MemTotal"), 8000000LL * 1024);
  EXPECT_FALSE(MeminfoBytes(meminfo, "Mem"));
  EXPECT_FALSE(MeminfoBytes(meminfo, "SwapTotal"));
}

}  // namespace
}  // namespace uvm::startup
