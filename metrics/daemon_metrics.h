// The daemon's Prometheus metrics (issue 4 item 5, issue 5 "Outputs"), served on one HTTP endpoint.
//
// Why not prometheus-cpp all the way: its Collect + TextSerializer cost ~2 µs per series (measured: 7.6 ms
// for 250 VM pods with the pressure families), against a 3 ms budget (DESIGN.md). So the per-pod families
// (17 of every 18 series) live in a store of our own that keeps each series' escaped `name{labels}` text
// and writes only the value per scrape; the few node-wide families (counters by result/cause, the
// histogram, cri_up, build_info) are prometheus-cpp metrics serialised by its TextSerializer. /metrics is
// served by civetweb (the HTTP server prometheus-cpp's own Exposer wraps), calling Serialize().
//
// Threading and locking. The daemon's event loop is the single writer: it calls the
// Upsert*/Remove/Count*/Set* functions. /metrics is served from the HTTP server's own 2 threads, so a scrape
// never runs on the event loop. What a writer can wait for:
//   * setting the value of an existing series is a lock-free atomic store (per-pod series, Gauge::Set,
//     Counter::Increment);
//   * creating or removing a per-pod series (a pod appears or goes, a value becomes present or absent) takes
//     that one family's mutex, which a scrape holds only while it appends that family's lines (about 50 ns a
//     series: ~15 µs for a 250-pod family); memory for the text is reserved before the lock is taken;
//   * ObserveReconcileSeconds and the labelled counters take prometheus-cpp's histogram/family mutexes, held
//     by a scrape only to copy their few values.
// Our own pod index (uid -> series) is guarded by a separate mutex that scrapes never take, so the class is
// safe to call from several threads, though it is designed for one writer.
//
// Label values come from pod metadata an attacker may shape. They are escaped as the text format requires
// (`\`, `"`, newline) and invalid UTF-8 (which makes Prometheus reject the WHOLE scrape) is replaced with
// U+FFFD. Values are otherwise kept as they are, whatever their length.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::metrics {

// The labels every per-pod series carries (and `node`, the same for all). `uid` is the key: series of one uid
// are replaced when its other labels change.
struct PodLabels {
  std::string namespace_, pod, uid, runtime_handler;
};

// What UpsertPod publishes; nullopt (or vm_isolated=false for the UVM/overhead ones) means "no series".
struct PodSizingMetrics {
  bool vm_isolated = false;  // pods that are not VM-isolated get no UVM, host-memory or overhead series
  std::optional<uint32_t> uvm_vcpus;
  std::optional<int64_t> uvm_memory_bytes, host_memory_bytes, overhead_required_bytes,
      overhead_declared_bytes;
  std::optional<int64_t> cgroup_memory_limit_bytes;  // absent when the cgroup is unlimited
  std::optional<int64_t> cgroup_memory_usage_bytes;
  // VM pods: pod cgroup usage - guest memory in use; absent where not measured.
  std::optional<int64_t> host_overhead_measured_bytes;
};

// The node ledger (issue 10), host view only: over CRI the daemon sees no memory requests, so the
// scheduler view is left to rules joining kube-state-metrics (they read the shapes' scheduler needs here).
struct ShapeMetrics {
  std::string shape;
  std::optional<int64_t> host_fit;     // absent: unbounded (the shape binds on no resource)
  int64_t scheduler_memory_bytes = 0;  // requests + spec.overhead of one more pod of it
  int64_t host_memory_bytes = 0;       // its host need (UVM + VMM overhead for a VM pod)
  int64_t cpu_millis = 0;              // requests + overhead
};
struct NodeMetrics {
  int64_t allocatable_memory_bytes = 0;
  int64_t allocatable_cpu_millis = 0;
  std::optional<int64_t> allocatable_pods;  // absent: no pod-count limit known
  int64_t committed_memory_bytes = 0;       // host view
  int64_t committed_cpu_millis = 0;
  std::vector<ShapeMetrics> shapes;  // series of shapes no longer given are removed
};

// Guest memory pressure (issue 5). Non-finite doubles are treated as absent (prometheus-cpp would write
// "Nan"/"+Inf" and the dashboards would have to filter them).
struct PodPressureMetrics {
  std::optional<int64_t> guest_memory_available_bytes;
  std::map<std::string, int64_t> guest_filesystem_bytes;         // label mount
  std::map<std::string, double> memory_growth_bytes_per_second;  // label cause: filesystem|logs|anonymous|...
  std::optional<double> memory_exhaustion_seconds;               // absent when nothing grows
  int pressure_level = 0;                                        // 0 ok, 1 warning, 2 critical
  uint64_t oom_kills_total = 0;  // cumulative; a value below the last one is exported as a counter reset
};

// Values of uvm_sizer_cgroup_writes_total{result}: both series exist from the start so that increase()
// and the alert rules see the first error.
inline constexpr std::string_view kWriteOk = "ok";
inline constexpr std::string_view kWriteError = "error";

// uvm_sizer_sandbox_start_seconds and uvm_sizer_sandbox_shim_create_seconds (daemon/startup_profile.h),
// in seconds. 50 ms is below any pod start (runc with a cached image: ~0.1-0.3 s) and 120 s covers an image
// pull or a confidential VM accepting GiBs of memory at boot; in between roughly 1-2-3-5 steps, densest
// from 1 to 10 s where Kata and kata-cc starts lie, and past kubelet's
// kubelet_run_podsandbox_duration_seconds, whose top bucket is 10 s (STARTUP.md §2.5). The shim's own
// histogram has 1..512 ms buckets, too short for a VM boot, so its create gets the same list. 17 buckets
// x 7 memory buckets x a few handlers keeps the families small.
inline constexpr std::array<double, 17> kSandboxStartBuckets = {0.05, 0.1, 0.25, 0.5, 1,  2,  3,  5,  8,
                                                                10,   15,  20,   30,  45, 60, 90, 120};

class DaemonMetrics {
 public:
  // Registers every family, with uvm_sizer_build_info{version} 1, uvm_sizer_cri_up 0 and
  // uvm_sizer_node_info 1. Every series carries node="<node>", so a central Prometheus aggregates per node
  // without relabelling.
  DaemonMetrics(std::string version, std::string node);
  // Stops the HTTP server and joins its threads: ~20 ms, but up to 2 s while a client is stalled mid-request
  // (civetweb 1.15 re-checks its stop flag every 2 s). A daemon with a hard stop deadline destroys this last.
  ~DaemonMetrics();
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  // Starts serving GET /metrics on "host:port" ("0.0.0.0:9842", "127.0.0.1:0" for an ephemeral port,
  // "[::]:9842"), from 2 server threads of its own. The error names the address. Only one Listen per object.
  uvm::Status Listen(const std::string& address);
  // The bound ports (after Listen), e.g. to learn the ephemeral one.
  std::vector<uint16_t> ListeningPorts() const;

  // Creates, updates or removes the pod's sizing series to match `m`.
  void UpsertPod(const PodLabels& labels, const PodSizingMetrics& m);
  // Creates, updates or removes the pod's pressure series (incl. mounts and causes no longer given).
  void UpsertPodPressure(const PodLabels& labels, const PodPressureMetrics& m);
  // Removes the pod's pressure series only (it stopped being watched but is still there).
  void RemovePodPressure(const std::string& uid);
  // Removes every series of that pod, in all families. Unknown uids are ignored.
  void RemovePod(const std::string& uid);

  // The node ledger's series (uvm_sizer_node_*, uvm_sizer_shape_*).
  void SetNode(const NodeMetrics& m);

  void CountCgroupWrite(std::string_view result);  // kWriteOk / kWriteError
  void SetCriUp(bool up);
  void ObserveReconcileSeconds(double seconds);
  // How late a scheduled job started (uvm_sizer_event_loop_lag_seconds).
  void ObserveLoopLagSeconds(double seconds);
  void CountError(std::string_view cause);
  // The startup profile: one observation per sandbox start (uvm_sizer_sandbox_start_seconds), per Kata
  // shim create (uvm_sizer_sandbox_shim_create_seconds), and the starts not observed, by reason
  // (uvm_sizer_sandbox_start_skipped_total). Non-finite or negative seconds are dropped.
  void ObserveSandboxStart(std::string_view runtime_handler, std::string_view uvm_memory_bucket,
                           double seconds);
  void ObserveShimCreate(std::string_view runtime_handler, std::string_view uvm_memory_bucket,
                         double seconds);
  void CountSandboxStartSkipped(std::string_view reason);
  // level: "ok" | "warning" | "critical"; cause: what the model blamed (filesystem, logs, anonymous, ...).
  void CountPressureTransition(std::string_view level, std::string_view cause);

  // Exactly the body GET /metrics serves (text format 0.0.4). Safe from any thread.
  std::string Serialize() const;

  // Number of pods with at least one series (for tests and the daemon's self-checks).
  size_t PodCount() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Replaces invalid UTF-8 sequences with U+FFFD; valid text (incl. quotes, backslashes, newlines) is
// unchanged.
std::string SanitizeLabelValue(std::string_view value);

}  // namespace uvm::metrics
