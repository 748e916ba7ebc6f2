// The daemon's startup profile (issue 11 item 2): when to observe a sandbox's start, with what value, under
// which UVM memory bucket. Pure: facts in (CRI timestamps, the shim's counters, clocks read by the caller),
// a decision out. The pod table keeps whether a sandbox was settled (daemon/pod_table.h), the reconciler
// gathers the facts and acts, the exporter owns the histograms (metrics/daemon_metrics.h).
//
// What is measured. uvm_sizer_sandbox_start_seconds = the first container's ContainerStatus.started_at -
// the sandbox's PodSandboxStatus.created_at: what a pod start costs on the node from the sandbox record to
// the first process of the pod (for a Kata pod that includes the VM boot, the image pull or check and the
// container create/start). containerd sets created_at 2-7 ms after RunPodSandbox begins and started_at
// 1.0-1.6 ms before StartContainer returns (STARTUP.md §2.6, measured on 1.6.20), so the value is the
// kubelet-visible span within a few ms.
//
// Each sandbox is observed once: when its first container has started (a sandbox removed before that, or
// whose containers never start, is never observed), and only when it was created after the daemon began
// watching: a sandbox already there at start may have been observed by the previous daemon, and counting
// it again after every restart would make the profile a function of restarts. The cost is the few starts
// that straddle a restart, which are not observed at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace uvm::daemon {

// The histograms' buckets are metrics::kSandboxStartBuckets (metrics/daemon_metrics.h).

// A start value above this is a clock problem or a sandbox that waited for something else (a stuck image
// pull), not a start: it is counted as skipped ("implausible"). And a sandbox whose containers have not
// started this long after its creation stops being asked about ("never_started").
inline constexpr int64_t kMaxPlausibleStartNs = 3600LL * 1'000'000'000;

// The uvm_memory_bucket label: the UVM memory the sizer predicts for the pod, in a fixed set of ranges so
// the label's cardinality is bounded (7 values):
//   "none"     the pod is not VM-isolated (no sizing profile for its handler), or has no UVM prediction
//              (the runtime refuses it)
//   "<=512Mi", "<=1Gi", "<=2Gi", "<=4Gi", "<=8Gi", ">8Gi"   the predicted UVM memory, upper bound inclusive
std::string_view UvmMemoryBucket(std::optional<int64_t> uvm_memory_mib);

// Whether a sandbox created at `created_at_ns` (CRI, Unix ns) is one whose start the daemon watched:
// created at or after `watch_since_ns`, the daemon's own start (Unix ns). Sandboxes without a created_at
// (0) are not.
bool StartWatchable(int64_t created_at_ns, int64_t watch_since_ns);

enum class StartVerdict {
  kWait,     // nothing to decide yet: ask again at the next poll
  kObserve,  // observe `seconds` now, then never again
  kSkip,     // never observe; count under `reason` (uvm_sizer_sandbox_start_skipped_total)
  kIgnore,   // never observe, count nothing (a sandbox created before the daemon watched)
};

struct StartDecision {
  StartVerdict verdict = StartVerdict::kWait;
  double seconds = 0;
  std::string_view reason;  // kSkip: "clock_skew", "implausible", "never_started"
  bool operator==(const StartDecision&) const = default;
};

struct SandboxStartFacts {
  int64_t sandbox_created_at_ns = 0;  // PodSandboxStatus / ListPodSandbox created_at
  // started_at of the earliest-started container of the sandbox; nullopt while none has started (or the
  // runtime reported no start time).
  std::optional<int64_t> first_container_started_at_ns;
  int64_t watch_since_ns = 0;  // the daemon's start
  int64_t now_ns = 0;          // the wall clock now (for "never_started")
};

// started_at before created_at cannot happen on one clock: "clock_skew" (the runtime's clock stepped
// between the two, or its timestamps are wrong).
StartDecision DecideSandboxStart(const SandboxStartFacts& facts);

// kata_shim_rpc_durations_histogram_milliseconds{action="create"} of the sandbox's shim. The shim's task
// Create serves the sandbox and then every container of the pod [S: kata-containers src/runtime/pkg/
// containerd-shim-v2/service.go Create: "Create a new sandbox or container", observed in its deferred
// func], and one shim serves one sandbox, so only while _count is 1 is _sum (integer ms) the sandbox's own
// create: the VM boot plus the agent's CreateSandbox.
struct ShimCreateTotals {
  double sum_ms = 0;
  double count = 0;
};

// nullopt totals (the shim reports no create series): "shim_create_absent". A _count above 1 at the first
// look (a container create is already in the sum): "shim_create_ambiguous". A negative or non-finite sum:
// "shim_create_invalid". _count 0: wait.
StartDecision DecideShimCreate(const std::optional<ShimCreateTotals>& totals);

// Whether a CRI runtime_type is Kata's (io.containerd.kata.v2, io.containerd.kata-qemu.v2, ...): only their
// shims have a monitor endpoint with the create histogram.
bool IsKataRuntimeType(std::string_view runtime_type);

}  // namespace uvm::daemon
