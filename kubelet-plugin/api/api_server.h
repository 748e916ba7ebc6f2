// The daemon's own API (uvmsizer.v1) on a unix socket. gRPC runs it on its own threads; they read an
// immutable snapshot the event loop publishes, and never touch the loop's state.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace uvm::api {

struct PodView {
  std::string sandbox_id, namespace_, name, uid, runtime_handler;
  std::optional<std::string> profile;  // nullopt: not VM-isolated
  std::string phase;
  std::optional<uint32_t> vcpus, memory_mib;
  std::optional<std::string> refusal;
  std::optional<int64_t> host_memory_bytes;
  int64_t overhead_required_bytes = 0, overhead_declared_bytes = 0, overhead_shortfall_bytes = 0;
  std::string cgroup_parent;
  std::optional<int64_t> cgroup_memory_limit_bytes, cgroup_memory_usage_bytes;
  uint64_t cgroup_writes = 0;
  std::vector<std::string> notes;
  std::optional<std::string> last_error;
  // Guest memory pressure (issue 5); level "unknown" until the watcher has a verdict.
  std::string pressure_level = "unknown";
  std::string pressure_cause;
  std::string pressure_basis;
  std::optional<double> exhaustion_seconds;
  std::string pressure_advice;
  // The VMM's host overhead: measured (pod cgroup usage - guest memory in use; nullopt where not measured)
  // and modelled (host memory - UVM memory).
  std::optional<int64_t> host_overhead_measured_bytes;
  int64_t host_overhead_model_bytes = 0;
  bool operator==(const PodView&) const = default;
};

// The node ledger, host view (sizer/capacity.h NodeLedger, as the daemon computes it).
struct ShapeFitView {
  std::string shape;
  std::optional<int64_t> host_fit;  // nullopt: unbounded
  std::string host_binding;         // memory | cpu | pods | none
  int64_t host_memory_bytes = 0, scheduler_memory_bytes = 0, cpu_millis = 0;
  bool operator==(const ShapeFitView&) const = default;
};
struct LedgerView {
  std::string node;
  int64_t allocatable_memory_bytes = 0, allocatable_cpu_millis = 0, allocatable_pods = 0;
  std::string allocatable_source;
  int64_t committed_memory_bytes = 0, committed_cpu_millis = 0;
  int64_t free_memory_bytes = 0, free_cpu_millis = 0;
  int64_t pods = 0, vm_pods = 0, vm_pods_unlimited_cgroup = 0, pods_request_unknown = 0,
          vm_pods_measured_above_model = 0;
  std::vector<ShapeFitView> shapes;
  std::vector<std::string> notes;
  bool operator==(const LedgerView&) const = default;
};

struct DaemonView {
  std::string version, cri_endpoint, cgroup_mode, change_feed;
  bool cri_up = false;
  int64_t started_at_unix_seconds = 0;
  std::vector<PodView> pods;
  std::optional<LedgerView> ledger;  // nullopt from a daemon that predates it
};

struct SizeRequest {
  std::optional<std::string> manifest_yaml;
  // CRI resources (cpu_period, cpu_quota, cpu_shares, memory_limit_in_bytes) and declared overhead.
  std::optional<std::array<int64_t, 4>> resources;
  std::array<int64_t, 4> declared_overhead{};
  std::string handler, profile;
};
struct SizeResponse {
  std::string result_json;
  bool refused = false;
};
// Called on a gRPC thread; must not touch loop-owned state (the daemon hands it a copy of its sizing setup).
using SizeHandler = std::function<Result<SizeResponse>(const SizeRequest&)>;

class ApiServer {
 public:
  // Listens on `socket_path` (an existing socket file there is replaced), mode 0660, owned by `group`
  // when not empty. Errors name the path or group.
  static Result<std::unique_ptr<ApiServer>> Start(const std::string& socket_path, const std::string& group,
                                                  SizeHandler size);
  virtual ~ApiServer() = default;
  // Replaces the snapshot; watchers get the differences.
  virtual void Publish(DaemonView view) = 0;
  // Ends every stream and stops within `grace`; removes the socket file.
  virtual void Stop(std::chrono::milliseconds grace) = 0;
};

// The client side, for `uvm-sizer status`.
Result<DaemonView> FetchStatus(const std::string& socket_path, std::chrono::milliseconds timeout);
// ListPods: every pod the daemon knows (`runtimeclass --from-node`).
Result<std::vector<PodView>> ListPods(const std::string& socket_path, std::chrono::milliseconds timeout);
// WatchPods until `on_event` returns false or the deadline passes; for tests and `status --watch`.
Status WatchPods(const std::string& socket_path, std::chrono::milliseconds timeout,
                 const std::function<bool(const std::string& type, const PodView&)>& on_event);
// WatchPressure until `on_event(pod, previous_level)` returns false or the deadline passes.
Status WatchPressure(
    const std::string& socket_path, std::chrono::milliseconds timeout,
    const std::function<bool(const PodView& pod, const std::string& previous_level)>& on_event);
Result<SizeResponse> CallSizePod(const std::string& socket_path, const SizeRequest& request,
                                 std::chrono::milliseconds timeout);

}  // namespace uvm::api
