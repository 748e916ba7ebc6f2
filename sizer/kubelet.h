// Kubelet emulation: what the kubelet sends the runtime for a pod (LinuxPodSandboxConfig.resources) and
// what it sets on the pod cgroup (SIZING.md §2 and §5). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.h"
#include "sizer/pod.h"

namespace uvm::sizer {

// Node settings of the kubelet that change the numbers.
struct KubeletOptions {
  bool cpu_cfs_quota = true;                 // --cpu-cfs-quota (default true)
  int64_t cpu_cfs_quota_period_us = 100000;  // --cpu-cfs-quota-period (CustomCPUCFSQuotaPeriod gate)
  // The static CPU manager with DisableCPUQuotaWithExclusiveCPUs: a Guaranteed pod with an integer CPU
  // request gets exclusive CPUs and no CFS quota (-1).
  bool static_cpu_manager = false;
};

// The CRI LinuxContainerResources subset that decides a UVM (field names as on the wire). 0 means unset,
// as in the CRI message.
struct SandboxResources {
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_shares = 0;
  int64_t memory_limit_in_bytes = 0;
  bool operator==(const SandboxResources&) const = default;
};

// Aggregated pod limits and requests, per resource: Σ regular containers + Σ sidecars, raised to the
// largest init container's use; pod-level resources replace the aggregate (component-helpers PodLimits,
// PodRequests). API defaulting is applied first: a container with a limit and no request requests it.
struct PodAggregate {
  std::optional<Quantity> cpu_limit;
  std::optional<Quantity> memory_limit;
  std::optional<Quantity> cpu_request;
  std::optional<Quantity> memory_request;
};
PodAggregate AggregatePod(const PodSpec& spec);

// Kubernetes QoS class (pkg/apis/core/v1/helper/qos).
enum class QosClass { kGuaranteed, kBurstable, kBestEffort };
QosClass PodQos(const PodSpec& spec);
const char* QosName(QosClass qos);

// kubelet calculateSandboxResources (kuberuntime_sandbox_linux.go): overhead excluded. Fails for a CPU
// limit whose millicores do not fit int64.
Result<SandboxResources> SandboxResourcesForPod(const PodSpec& spec, const KubeletOptions& options);

// Per-container resources the kubelet sends at CreateContainer (for dynamic-mode sizing), in creation
// order: init containers first (sidecars included), then regular containers.
struct ContainerResources {
  std::string name;
  bool init = false;
  bool sidecar = false;
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t memory_limit_in_bytes = 0;
};
std::vector<ContainerResources> ContainerResourcesForPod(const PodSpec& spec, const KubeletOptions& options);

// The pod cgroup the kubelet creates (cm/helpers_linux.go ResourceConfigForPod): limits + spec.overhead
// (added to non-zero limits only), shares from requests + spec.overhead.cpu; memory is limited only when
// every container, init containers and sidecars included, declares a non-zero memory limit, or a non-zero
// pod-level one is set (or the pod is Guaranteed); CPU quota likewise. nullopt = unlimited.
struct PodCgroupLimits {
  std::optional<int64_t> memory_limit_bytes;
  std::optional<int64_t> cpu_quota_us;  // -1 when CFS quota is off
  int64_t cpu_period_us = 100000;
  int64_t cpu_shares = 2;
};
PodCgroupLimits PodCgroupLimitsForPod(const PodSpec& spec, const KubeletOptions& options);

// kubelet's cm.MilliCPUToShares and milliCPUToQuota (pkg/kubelet/cm/helpers_linux.go).
int64_t MilliCpuToShares(int64_t milli_cpu);
int64_t MilliCpuToQuota(int64_t milli_cpu, int64_t period_us);

}  // namespace uvm::sizer
