// One pod start as uvm-sizer-startup measured it: the row of pods.jsonl (schema in bench/startup/README.md).
// The runner (run.cc) fills it; the model (jsonl, summary, report, compare) only reads it, so `report DIR`
// can rebuild every output from pods.jsonl alone. Plain data: no I/O, no CRI or protobuf type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uvm::startup {

// Bumped on any change a reader of pods.jsonl must know about (a renamed or re-meant field).
inline constexpr int kSchemaVersion = 1;

// The CRI calls of one pod start, in the kubelet's order (kuberuntime_manager.go SyncPod: sandbox first and
// alone, then per container image status/pull, create, start). `running_seen` is StartContainer's return
// -> the first ContainerStatus that says RUNNING.
enum class Phase : int {
  kRunPodSandbox,
  kPodSandboxStatus,
  kImageStatus,
  kPullImage,
  kCreateContainer,
  kStartContainer,
  kRunningSeen,
};
inline constexpr int kPhaseCount = 7;
// "run_sandbox", "sandbox_status", "image_status", "pull_image", "create_container", "start_container",
// "running_seen": the names in pods.jsonl, summary.json and the reports.
std::string_view PhaseName(Phase phase);

// The UVM the sizer predicts for the pod's resources (the same call `uvm-sizer size` makes).
struct PredictedUvm {
  bool vm_isolated = false;  // false: the handler is not VM-isolated (runc): no UVM
  std::string profile;       // e.g. "kata-card", "kata-cc-card"; "" when not VM-isolated
  uint32_t vcpus = 0;
  uint32_t memory_mib = 0;
  std::optional<int64_t> host_memory_bytes;  // UVM + the VMM's host overhead, what the budget counts
  std::string refusal;                       // the runtime would refuse the sandbox ("" = it would not)
};

// What the node showed of the VM (real Kata only: VMM command line).
struct ObservedUvm {
  std::optional<uint32_t> vcpus;
  std::optional<uint32_t> memory_mib;
  std::string source;  // e.g. "qemu -m", "cloud-hypervisor --memory"
};

// Tier 1, only where the handler is really Kata (detected from PodSandboxStatus verbose info).
struct KataTimings {
  std::optional<double>
      shim_create_ms;  // kata_shim_rpc_durations_histogram_milliseconds{action="create"} _sum
  std::optional<double> agent_create_sandbox_ms;
  std::optional<double> agent_create_container_ms;
  std::optional<double> agent_start_container_ms;
  std::optional<int64_t>
      vmm_spawn_ns;  // VMM process start, relative to RunPodSandbox's start (10 ms resolution)
  std::optional<int64_t>
      mem_ramp_t50_ns;  // pod cgroup memory reaches 50 % of the predicted UVM, from RunPodSandbox start
  std::optional<int64_t> mem_ramp_t90_ns;
  std::optional<uint64_t> mem_peak_bytes;
};

struct PodError {
  std::string phase;  // PhaseName of the call that failed, or "teardown", "budget", "setup"
  std::string code;   // gRPC status name ("DEADLINE_EXCEEDED", "UNKNOWN", ...), or "TIMEOUT" for running_seen
  std::string message;  // for people; never parsed
};

struct PodRecord {
  int schema_version = kSchemaVersion;
  std::string run_id;
  // What was asked.
  std::string handler;       // the CRI runtime handler sent ("runc", "kata", "kata-cc")
  std::string runtime_type;  // what the runtime reports for it, e.g. "io.containerd.runc.v2"; "" if unknown
  bool stand_in = false;     // a VM handler name served by a non-Kata runtime (runc underneath)
  std::string mode;          // "burst", "closed", "open"
  int level = 0;             // burst/closed: concurrency; open: index into the rates
  double rate = 0;           // open mode: pods/s; 0 otherwise
  int iteration = 0;
  bool warmup = false;                        // the discarded first pod of a handler (reported apart)
  bool cold = false;                          // the handler's first pod since containerd started
  std::string mem_limit;                      // the --mem-limits point as given ("none", "256Mi")
  std::string cpu_limit;                      // the --cpu-limits point as given ("none", "1", "500m")
  std::optional<int64_t> memory_limit_bytes;  // what was sent as LinuxPodSandboxConfig.resources
  std::optional<int64_t> cpu_limit_millis;
  std::string overhead;  // the declared overhead sent (--overhead), e.g. "cpu=250m,memory=160Mi"; "" = none
  PredictedUvm predicted_uvm;
  std::optional<ObservedUvm> observed_uvm;
  // Who.
  std::string pod_name;
  std::string pod_uid;
  std::string sandbox_id;  // "" when RunPodSandbox failed
  // When: wall clock of the first CRI call (for people), everything else from CLOCK_MONOTONIC.
  int64_t start_unix_ns = 0;
  int64_t start_offset_ns = 0;  // first CRI call, since the run started (monotonic)
  int burst = 0;  // pods released together share it (burst mode); throughput = n / span of a burst
  int64_t budget_wait_ns = 0;  // time held back by the memory budget before the first call (not in total)
  std::array<std::optional<int64_t>, kPhaseCount> phase_ns{};  // nullopt: not reached (or skipped: pull)
  std::optional<int64_t> total_ns;        // first call start -> running seen; nullopt when it failed
  std::optional<int64_t> unaccounted_ns;  // total - Σ phases
  std::optional<int64_t> stop_sandbox_ns;
  std::optional<int64_t> remove_sandbox_ns;
  std::optional<KataTimings> kata;
  std::optional<PodError> error;  // the first error; the pod counts as failed

  bool ok() const { return !error.has_value() && total_ns.has_value(); }
  std::optional<int64_t> phase(Phase p) const { return phase_ns[static_cast<int>(p)]; }
};

// run.json: what `report DIR` needs besides pods.jsonl to rebuild summary.json byte for byte.
struct HandlerEnvironment {
  std::string handler;
  std::string runtime_type;  // from a sandbox's verbose info; "" when no sandbox of it started
  bool stand_in = false;
  std::string kata_version;  // real Kata only
  std::string hypervisor;
};

struct RunEnvironment {
  std::string cpu_model;  // /proc/cpuinfo "model name"
  int nproc = 0;
  std::string kernel;  // uname -r
  int64_t mem_total_bytes = 0;
  int64_t mem_available_bytes = 0;  // at the start
  std::string containerd_version;   // CRI Version().runtime_version
  std::vector<HandlerEnvironment> handlers;
  std::string sev_snp;  // /sys/module/kvm_amd/parameters/sev_snp, "" when absent
  std::string tdx;      // /sys/module/kvm_intel/parameters/tdx, "" when absent
};

// containerd's own timer of the sandbox task create, read from its /v1/metrics before and after the run:
// Σ client RunPodSandbox must be >= the delta and close to it (STARTUP.md §2.6).
struct ServerCrossCheck {
  std::string url;  // "" when not configured
  std::optional<double> sandbox_create_sum_before_s;
  std::optional<double> sandbox_create_sum_after_s;
  std::optional<double> sandbox_create_count_before;
  std::optional<double> sandbox_create_count_after;
  std::string error;  // why a value is missing
};

struct RunInfo {
  int schema_version = kSchemaVersion;
  std::string run_id;
  std::string tool_version;
  std::string command_line;
  std::string started_at;  // RFC 3339, UTC
  std::string cri_endpoint;
  std::string image;
  std::string mode;
  std::vector<int> levels;
  std::vector<double> rates;
  int64_t mem_budget_bytes = 0;
  int64_t wall_ns = 0;  // the whole run
  // The tool's own CPU (getrusage user + system of the process, gRPC threads included) over the run,
  // divided by the pods recorded: it must stay far below a pod's start so the tool is never the bottleneck.
  int64_t tool_cpu_ns_per_pod = 0;
  RunEnvironment env;
  ServerCrossCheck containerd;
};

}  // namespace uvm::startup
