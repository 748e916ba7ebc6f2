// What the daemon needs from the container runtime and from the host cgroups, as small interfaces: the
// real adapters (CRI over gRPC, cgroupfs) live in daemon/adapters.*, fakes in the unit tests, where a
// fault cannot be caused for real.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "sizer/kubelet.h"
#include "sizer/pressure.h"

namespace uvm::daemon {

// One sandbox as ListPodSandbox shows it: cheap, every poll.
struct SandboxSummary {
  std::string id;
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string runtime_handler;
  bool ready = false;
  int64_t created_at_ns = 0;
  // The pod's annotations as the kubelet sent them (PodSandboxConfig.annotations): Kata's per-pod
  // io.katacontainers.* settings are among them (sizer/kata_annotations.h).
  std::map<std::string, std::string> annotations;
};

// What PodSandboxStatus(verbose) adds, once per sandbox (and at each full resync).
struct SandboxDetail {
  SandboxSummary summary;
  std::string cgroup_parent;
  std::string runtime_type;  // the verbose info's runtimeType, e.g. io.containerd.kata.v2 ("" unknown)
  std::optional<sizer::SandboxResources> resources;  // LinuxPodSandboxConfig.resources (overhead excluded)
  std::optional<sizer::SandboxResources> overhead;   // LinuxPodSandboxConfig.overhead (declared)
  // Per-container limits in creation order, for dynamic-mode profiles (empty when not fetched).
  std::vector<sizer::ContainerResources> containers;
};

class RuntimePort {
 public:
  virtual ~RuntimePort() = default;
  virtual Result<std::vector<SandboxSummary>> ListSandboxes() = 0;
  virtual Result<SandboxDetail> InspectSandbox(const SandboxSummary& summary) = 0;
  virtual Result<std::vector<sizer::ContainerResources>> ContainerLimits(const std::string& sandbox_id) = 0;
  // Σ writable-layer bytes of the sandbox's containers (CRI ListContainerStats); nullopt when the runtime
  // reported none. Costly on containerd (it asks every shim): called at full resyncs only.
  virtual Result<std::optional<int64_t>> WritableLayerBytes(const std::string& sandbox_id) = 0;
  // For each of `sandbox_ids`: the ContainerStatus.started_at (Unix ns) of its earliest-started container,
  // nullopt while none has started. One ListContainers for all, then ContainerStatus only for the started
  // containers of those sandboxes (the startup profile asks only about sandboxes it has not settled).
  virtual Result<std::map<std::string, std::optional<int64_t>>> FirstContainerStarts(
      const std::set<std::string>& sandbox_ids) = 0;
  // Aborts calls in flight (SIGTERM must stop the daemon within 2 s whatever the runtime does).
  virtual void CancelInFlight() {}
};

// The guest side of a VM pod: the Kata shim's monitor endpoint.
class GuestPort {
 public:
  using Done = std::function<void(Result<sizer::GuestObservation>)>;
  virtual ~GuestPort() = default;
  // Whether the sandbox has an endpoint at all (its socket exists); false: the host view alone.
  virtual bool HasEndpoint(const std::string& sandbox_id) = 0;
  // Human-readable location of the endpoint, for log lines.
  virtual std::string Describe(const std::string& sandbox_id) const = 0;
  // Asynchronous: `done` runs exactly once, later, on the daemon's loop (never inside this call), unless the
  // loop is stopped first.
  virtual void Fetch(const std::string& sandbox_id, Done done) = 0;
};

// A pod cgroup as the daemon sees it (nullopt = unlimited or not readable).
struct CgroupReading {
  std::optional<int64_t> memory_limit_bytes;
  std::optional<int64_t> memory_usage_bytes;
  std::optional<int64_t> cpu_quota_us;
  std::optional<int64_t> cpu_period_us;
  // What the pressure model reads: hierarchical memory.stat, OOM kills, PSI (nullopt: absent).
  std::optional<int64_t> shmem_bytes, file_bytes, anon_bytes;
  std::optional<uint64_t> oom_kills;
  std::optional<double> memory_some_avg10, memory_full_avg10;
};

// The result of a raise-only write.
struct WriteOutcome {
  bool written = false;  // false: already at or above the target, nothing written
  std::optional<int64_t> before;
  std::optional<int64_t> after;
};

// A PSI trigger on a pod cgroup's memory.pressure ("some|full <stall µs> <window µs>", kernel
// Documentation/accounting/psi.rst). Without CAP_SYS_RESOURCE the window must be a multiple of 2 s.
struct PressureTriggerSpec {
  bool full = false;  // "full": all non-idle tasks stalled; "some": at least one
  std::chrono::microseconds stall{150000};
  std::chrono::microseconds window{2000000};
};

// A registered trigger, owning its fd: the kernel raises POLLPRI on it (epoll EPOLLPRI, Asio wait_error)
// when the stall crossed the threshold within a window, POLLERR when the cgroup went away.
class PressureTrigger {
 public:
  virtual ~PressureTrigger() = default;
  virtual int fd() const = 0;
  // After a wakeup: true when the cgroup is gone and the trigger dead (close it).
  virtual bool Gone() const = 0;
};

class CgroupPort {
 public:
  virtual ~CgroupPort() = default;
  // The pod cgroup named by a CRI cgroup_parent, which must name pod `uid` (validated: hostile paths and
  // other pods' paths are refused before anything is opened). The Raise* calls act on a cgroup ReadPod
  // opened.
  virtual Result<CgroupReading> ReadPod(const std::string& cgroup_parent, const std::string& uid) = 0;
  // Raises the memory limit to `bytes` when it is lower; never lowers; never touches an unlimited one.
  virtual Result<WriteOutcome> RaiseMemoryLimit(const std::string& cgroup_parent, int64_t bytes) = 0;
  // Raises the CFS quota to `quota_us` per `period_us` when the current one is lower and finite.
  virtual Result<WriteOutcome> RaiseCpuQuota(const std::string& cgroup_parent, int64_t quota_us,
                                             int64_t period_us) = 0;
  // With sandbox_cgroup_only=false Kata puts the VMM in /kata_overhead/<sandbox-id>, unconstrained: bound it.
  virtual Result<WriteOutcome> BoundKataOverhead(const std::string& sandbox_id, int64_t bytes) = 0;
  // Registers a memory PSI trigger on the pod cgroup (the unified tree on hybrid hosts). The trigger
  // outlives Forget: its owner closes it.
  virtual Result<std::unique_ptr<PressureTrigger>> AddMemoryPressureTrigger(const std::string& cgroup_parent,
                                                                            const std::string& uid,
                                                                            const PressureTriggerSpec& spec) {
    (void)cgroup_parent, (void)uid, (void)spec;
    return Error{"this cgroup port has no PSI triggers"};
  }
  // Forgets kept file descriptors of a pod that is gone.
  virtual void Forget(const std::string& cgroup_parent) { (void)cgroup_parent; }
};

}  // namespace uvm::daemon
