// Tier 1 of a pod start on a real Kata runtime, and the environment block, as pure parsers of the text
// the node gives: the shim's own metrics (shim-monitor.sock), the VMM's /proc/<pid>/stat and command line,
// the pod cgroup's memory ramp during RunPodSandbox, /proc/cpuinfo and /proc/meminfo. run.cc does the
// reading; tests feed captured text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "bench/startup/record.h"

namespace uvm::startup {

// From one scrape of the sandbox's shim monitor, right after the pod is running (one shim serves one
// sandbox, so the _sum of each action is that sandbox's): the shim's own create
// (kata_shim_rpc_durations_histogram_milliseconds{action="create"}) and the agent RPCs
// (kata_shim_agent_rpc_durations_histogram_milliseconds{action="grpc.CreateSandboxRequest"|…}), names
// from kata-containers src/runtime/pkg/containerd-shim-v2/shim_metrics.go and
// src/runtime/virtcontainers/sandbox_metrics.go. Fields the text lacks stay unset.
Result<KataTimings> KataTimingsFromShimMetrics(std::string_view exposition);

// The process start time of /proc/<pid>/stat: field 22 (starttime, clock ticks since boot; proc(5)),
// counted after the last ')' because the comm field may hold spaces and parentheses.
Result<uint64_t> ProcStartTicks(std::string_view stat_text);

// A VMM's command line (/proc/<pid>/cmdline: NUL-separated) -> the VM size it was given, when argv[0] is
// qemu (-m [size=]N[M|G], -smp N[,…] or cpus=N) or cloud-hypervisor (--memory size=N[M|G],… --cpus
// boot=N,…). nullopt for any other program (firecracker takes its size over its API).
std::optional<ObservedUvm> ObservedUvmFromCommandLine(std::string_view cmdline);
// True when argv[0]'s basename names a VMM Kata runs (qemu*, cloud-hypervisor, firecracker).
bool IsVmmCommandLine(std::string_view cmdline);

// The pod cgroup's memory during RunPodSandbox (ns since its start, bytes) -> t50/t90 of `target_bytes`
// (the predicted UVM) and the peak. A threshold never reached stays unset.
struct MemRamp {
  std::optional<int64_t> t50_ns;
  std::optional<int64_t> t90_ns;
  uint64_t peak_bytes = 0;
};
MemRamp MemRampOf(const std::vector<std::pair<int64_t, uint64_t>>& samples, uint64_t target_bytes);

// /proc/cpuinfo's first "model name" ("" when absent, e.g. on arm64).
std::string CpuModelFromCpuinfo(std::string_view cpuinfo);
// A /proc/meminfo line in bytes ("MemAvailable:  123 kB" -> 123*1024); nullopt when absent.
std::optional<int64_t> MeminfoBytes(std::string_view meminfo, std::string_view key);

}  // namespace uvm::startup
