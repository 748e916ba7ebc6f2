#include "sizer/kubelet.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::sizer {
namespace {

// kubelet constants (pkg/kubelet/cm/helpers_linux.go): MinShares, MaxShares, MinQuotaPeriod.
constexpr int64_t kMinShares = 2;
constexpr int64_t kMaxShares = 262144;
constexpr int64_t kSharesPerCpu = 1024;
constexpr int64_t kMilliCpuToCpu = 1000;
constexpr int64_t kMinQuotaPeriodUs = 1000;

using OptQ = std::optional<Quantity>;

// A declared quantity adds; an undeclared one contributes nothing (component-helpers addResourceList).
void Add(OptQ& total, const OptQ& value) {
  if (!value) return;
  total = total ? *total + *value : *value;
}
// component-helpers maxResourceList: present wins over absent, larger wins over smaller.
void Max(OptQ& total, const OptQ& value) {
  if (!value) return;
  if (!total || *value > *total) total = value;
}

// API defaulting (pkg/apis/core/v1/defaults.go): a resource with a limit and no request requests its limit.
OptQ DefaultedRequest(const OptQ& request, const OptQ& limit) {
  return request ? request : limit;
}

OptQ CpuLimit(const ResourceRequirements& r) {
  return r.limits.cpu;
}
OptQ MemoryLimit(const ResourceRequirements& r) {
  return r.limits.memory;
}
OptQ CpuRequest(const ResourceRequirements& r) {
  return DefaultedRequest(r.requests.cpu, r.limits.cpu);
}
OptQ MemoryRequest(const ResourceRequirements& r) {
  return DefaultedRequest(r.requests.memory, r.limits.memory);
}

// component-helpers AggregateContainerLimits / AggregateContainerRequests for one resource.
OptQ AggregateContainers(const PodSpec& spec, OptQ (*pick)(const ResourceRequirements&)) {
  OptQ total;
  for (const auto& c : spec.containers) Add(total, pick(c.resources));
  OptQ sidecars_so_far;
  OptQ init_peak;
  for (const auto& c : spec.init_containers) {
    OptQ use;
    if (c.restart_policy_always) {
      Add(total, pick(c.resources));
      Add(sidecars_so_far, pick(c.resources));
      use = sidecars_so_far;
    } else {
      // An init container runs beside the sidecars declared before it.
      Add(use, pick(c.resources));
      Add(use, sidecars_so_far);
    }
    Max(init_peak, use);
  }
  Max(total, init_peak);
  return total;
}

int64_t MilliOrZero(const OptQ& q) {
  return q ? q->MilliValue() : 0;
}
int64_t ValueOrZero(const OptQ& q) {
  return q ? q->Value() : 0;
}

bool PositiveQuantity(const OptQ& q) {
  return q && !q->IsZero();
}

bool HasExclusiveCpus(const PodSpec& spec, const KubeletOptions& options) {
  if (!options.static_cpu_manager || PodQos(spec) != QosClass::kGuaranteed) return false;
  // cpumanager static policy guaranteedCPUs: an integer CPU request gets exclusive CPUs.
  auto integer_cpu = [](const Container& c) {
    auto req = CpuRequest(c.resources);
    return req && !req->IsZero() && req->Value() * 1000 == req->MilliValue();
  };
  return std::any_of(spec.containers.begin(), spec.containers.end(), integer_cpu) ||
         std::any_of(spec.init_containers.begin(), spec.init_containers.end(), integer_cpu);
}

}  // namespace

PodAggregate AggregatePod(const PodSpec& spec) {
  PodAggregate agg{
      .cpu_limit = AggregateContainers(spec, CpuLimit),
      .memory_limit = AggregateContainers(spec, MemoryLimit),
      .cpu_request = AggregateContainers(spec, CpuRequest),
      .memory_request = AggregateContainers(spec, MemoryRequest),
  };
  // Pod-level resources (KEP-2837) replace the aggregate of the resources they set; a pod-level limit
  // without a request defaults the request to it.
  const auto& pod = spec.pod_resources;
  if (pod.limits.cpu) agg.cpu_limit = pod.limits.cpu;
  if (pod.limits.memory) agg.memory_limit = pod.limits.memory;
  if (auto r = DefaultedRequest(pod.requests.cpu, pod.limits.cpu)) agg.cpu_request = r;
  if (auto r = DefaultedRequest(pod.requests.memory, pod.limits.memory)) agg.memory_request = r;
  return agg;
}

QosClass PodQos(const PodSpec& spec) {
  // pkg/apis/core/v1/helper/qos GetPodQOS: only cpu and memory count; zero quantities are ignored.
  const auto& pod = spec.pod_resources;
  bool pod_level = pod.limits.cpu || pod.limits.memory || pod.requests.cpu || pod.requests.memory;
  std::vector<ResourceRequirements> all;
  if (pod_level) {
    all.push_back(pod);
  } else {
    for (const auto& c : spec.init_containers) all.push_back(c.resources);
    for (const auto& c : spec.containers) all.push_back(c.resources);
  }
  bool any = false;
  bool guaranteed = true;
  for (const auto& r : all) {
    any = any || PositiveQuantity(r.limits.cpu) || PositiveQuantity(r.limits.memory) ||
          PositiveQuantity(r.requests.cpu) || PositiveQuantity(r.requests.memory);
    if (!PositiveQuantity(r.limits.cpu) || !PositiveQuantity(r.limits.memory)) {
      guaranteed = false;
      continue;
    }
    if (CpuRequest(r) != r.limits.cpu || MemoryRequest(r) != r.limits.memory) guaranteed = false;
  }
  if (!any) return QosClass::kBestEffort;
  return guaranteed ? QosClass::kGuaranteed : QosClass::kBurstable;
}

const char* QosName(QosClass qos) {
  switch (qos) {
    case QosClass::kGuaranteed:
      return "Guaranteed";
    case QosClass::kBurstable:
      return "Burstable";
    case QosClass::kBestEffort:
      return "BestEffort";
  }
  return "?";
}

int64_t MilliCpuToShares(int64_t milli_cpu) {
  if (milli_cpu == 0) return kMinShares;
  __int128 shares = static_cast<__int128>(milli_cpu) * kSharesPerCpu / kMilliCpuToCpu;
  return static_cast<int64_t>(std::clamp<__int128>(shares, kMinShares, kMaxShares));
}

int64_t MilliCpuToQuota(int64_t milli_cpu, int64_t period_us) {
  if (milli_cpu == 0) return 0;
  __int128 quota = static_cast<__int128>(milli_cpu) * period_us / kMilliCpuToCpu;
  quota = std::min<__int128>(quota, std::numeric_limits<int64_t>::max());
  return std::max<int64_t>(static_cast<int64_t>(quota), kMinQuotaPeriodUs);
}

Result<SandboxResources> SandboxResourcesForPod(const PodSpec& spec, const KubeletOptions& options) {
  PodAggregate agg = AggregatePod(spec);
  for (const auto* q : {&agg.cpu_limit, &agg.cpu_request}) {
    if (*q && (*q)->MilliValueOverflows()) {
      return InvalidInput(
          fmt::format("pod cpu {} of {} is too large: its millicores do not fit a 64-bit integer",
                      q == &agg.cpu_limit ? "limit" : "request", (*q)->String()));
    }
  }
  // Memory: apimachinery's Value() of a quantity beyond int64 (a decimal "1e19", a 20-digit number, a sum
  // that overflowed) is garbage (0 or the low 64 bits; see Quantity::ValueOverflows), and the kubelet
  // passes it on unchecked (kuberuntime calculateLinuxResources: `memLimit = memory.Value()`). No
  // well-defined result to emulate: refuse (SIZING.md §6).
  for (const auto* q : {&agg.memory_limit, &agg.memory_request}) {
    if (*q && (*q)->ValueOverflows()) {
      return InvalidInput(fmt::format(
          "pod memory {} is too large: above 2^63-1 bytes, where the kubelet's arithmetic overflows",
          q == &agg.memory_limit ? "limit" : "request"));
    }
  }
  SandboxResources res;
  // kuberuntime calculateLinuxResources: shares from the request, or from the limit when no request.
  res.cpu_shares =
      MilliCpuToShares(agg.cpu_request ? MilliOrZero(agg.cpu_request) : MilliOrZero(agg.cpu_limit));
  res.memory_limit_in_bytes = ValueOrZero(agg.memory_limit);
  if (options.cpu_cfs_quota) {
    res.cpu_period = options.cpu_cfs_quota_period_us;
    res.cpu_quota = MilliCpuToQuota(MilliOrZero(agg.cpu_limit), res.cpu_period);
    if (HasExclusiveCpus(spec, options)) res.cpu_quota = -1;
  }
  return res;
}

std::vector<ContainerResources> ContainerResourcesForPod(const PodSpec& spec, const KubeletOptions& options) {
  std::vector<ContainerResources> out;
  auto add = [&](const Container& c, bool init) {
    ContainerResources r{.name = c.name, .init = init, .sidecar = init && c.restart_policy_always};
    r.memory_limit_in_bytes = ValueOrZero(c.resources.limits.memory);
    if (options.cpu_cfs_quota) {
      r.cpu_period = options.cpu_cfs_quota_period_us;
      auto milli = c.resources.limits.cpu && !c.resources.limits.cpu->MilliValueOverflows()
                       ? c.resources.limits.cpu->MilliValue()
                       : 0;
      r.cpu_quota = MilliCpuToQuota(milli, r.cpu_period);
    }
    out.push_back(std::move(r));
  };
  for (const auto& c : spec.init_containers) add(c, true);
  for (const auto& c : spec.containers) add(c, false);
  return out;
}

PodCgroupLimits PodCgroupLimitsForPod(const PodSpec& spec, const KubeletOptions& options) {
  PodAggregate agg = AggregatePod(spec);
  // component-helpers resource/helpers.go: PodLimits adds spec.overhead only to limits that are present
  // and non-zero (`if value, ok := limits[name]; ok && !value.IsZero()`); PodRequests adds it with
  // addResourceList, which creates the entry when absent, so a pod without CPU requests still gets the
  // overhead's shares.
  OptQ cpu_limit = agg.cpu_limit;
  OptQ memory_limit = agg.memory_limit;
  if (PositiveQuantity(cpu_limit) && spec.overhead.cpu) *cpu_limit += *spec.overhead.cpu;
  if (PositiveQuantity(memory_limit) && spec.overhead.memory) *memory_limit += *spec.overhead.memory;
  OptQ cpu_request = agg.cpu_request;
  Add(cpu_request, spec.overhead.cpu);

  // pkg/kubelet/cm/helpers_linux.go ResourceConfigForPod: PodLimits' ContainerFn sees every container's
  // limits, regular and init (kubernetes PR #103107), and clears "declared" for a resource that is zero
  // or absent there. For an init container the list it sees is its InitContainerUse: its own limits plus
  // those of the sidecars declared before it (a sidecar: the sidecars so far, itself included); see
  // AggregateContainerLimits in component-helpers.
  bool memory_declared = true;
  bool cpu_declared = true;
  auto see = [&](const OptQ& cpu, const OptQ& memory) {
    if (!PositiveQuantity(cpu)) cpu_declared = false;
    if (!PositiveQuantity(memory)) memory_declared = false;
  };
  for (const auto& c : spec.containers) see(c.resources.limits.cpu, c.resources.limits.memory);
  OptQ sidecar_cpu;
  OptQ sidecar_memory;
  for (const auto& c : spec.init_containers) {
    if (c.restart_policy_always) {
      Add(sidecar_cpu, c.resources.limits.cpu);
      Add(sidecar_memory, c.resources.limits.memory);
      see(sidecar_cpu, sidecar_memory);
    } else {
      OptQ cpu = c.resources.limits.cpu;
      OptQ memory = c.resources.limits.memory;
      Add(cpu, sidecar_cpu);
      Add(memory, sidecar_memory);
      see(cpu, memory);
    }
  }
  // Pod-level limits (KEP-2837) declare a resource only when non-zero (`!...Limits.Memory().IsZero()`):
  // a pod-level `memory: "0"` leaves the containers' verdict standing.
  if (PositiveQuantity(spec.pod_resources.limits.cpu)) cpu_declared = true;
  if (PositiveQuantity(spec.pod_resources.limits.memory)) memory_declared = true;

  PodCgroupLimits out;
  out.cpu_period_us = options.cpu_cfs_quota_period_us;
  int64_t quota = MilliCpuToQuota(
      cpu_limit && !cpu_limit->MilliValueOverflows() ? cpu_limit->MilliValue() : 0, out.cpu_period_us);
  if (!options.cpu_cfs_quota || HasExclusiveCpus(spec, options)) quota = -1;
  int64_t shares =
      MilliCpuToShares(cpu_request && !cpu_request->MilliValueOverflows() ? cpu_request->MilliValue() : 0);
  switch (PodQos(spec)) {
    case QosClass::kGuaranteed:
      out.cpu_shares = shares;
      out.cpu_quota_us = quota;
      out.memory_limit_bytes = ValueOrZero(memory_limit);
      break;
    case QosClass::kBurstable:
      out.cpu_shares = shares;
      if (cpu_declared) out.cpu_quota_us = quota;
      if (memory_declared) out.memory_limit_bytes = ValueOrZero(memory_limit);
      break;
    case QosClass::kBestEffort:
      out.cpu_shares = kMinShares;
      break;
  }
  return out;
}

}  // namespace uvm::sizer
