#include "sizer/capacity.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "sizer/kubelet.h"

namespace uvm::sizer {
namespace {

constexpr int64_t kMib = 1 << 20;
// The kubelet's default hard eviction threshold for memory.available (pkg/kubelet/eviction/
// defaults_linux.go DefaultEvictionHard: "memory.available": "100Mi"), applied when none is configured.
constexpr int64_t kDefaultEvictionHardMemoryBytes = 100 * kMib;

int64_t AddSat(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

int64_t SubSat(int64_t a, int64_t b) {
  int64_t diff = 0;
  if (__builtin_sub_overflow(a, b, &diff)) {
    return b > 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  return diff;
}

int64_t MemoryValue(const std::optional<Quantity>& quantity) {
  return quantity && !quantity->IsNegative() ? quantity->Value() : 0;
}

int64_t CpuMillis(const std::optional<Quantity>& quantity) {
  return quantity && !quantity->IsNegative() && !quantity->MilliValueOverflows() ? quantity->MilliValue() : 0;
}

int64_t EvictionHardBytes(int64_t memory_capacity_bytes, const KubeletReservations& reservations) {
  if (reservations.eviction_hard_memory_bytes) return *reservations.eviction_hard_memory_bytes;
  if (reservations.eviction_hard_memory_percent) {
    // The kubelet takes a percentage of capacity, truncated to whole bytes (eviction
    // GetThresholdQuantity: int64(float64(capacity.Value()) * float64(percentage))).
    double bytes =
        static_cast<double>(memory_capacity_bytes) * *reservations.eviction_hard_memory_percent / 100.0;
    return bytes >= 9.2e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(bytes);
  }
  return kDefaultEvictionHardMemoryBytes;
}

std::optional<int64_t> FitBy(int64_t free, int64_t need) {
  if (need <= 0) return std::nullopt;  // the shape does not use it: it cannot bind
  return free <= 0 ? 0 : free / need;
}

std::string Mib(int64_t bytes) {
  return fmt::format("{} MiB", bytes >= 0 ? (bytes + kMib - 1) / kMib : -((-bytes + kMib - 1) / kMib));
}

std::optional<int64_t> SumCounts(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a || !b) return std::nullopt;
  return AddSat(*a, *b);
}

}  // namespace

NodeAllocatable AllocatableFromCapacity(int64_t memory_capacity_bytes, int64_t cpu_capacity_millis,
                                        int64_t pods, const KubeletReservations& reservations) {
  int64_t memory = memory_capacity_bytes;
  memory = SubSat(memory, reservations.kube_reserved_memory_bytes);
  memory = SubSat(memory, reservations.system_reserved_memory_bytes);
  memory = SubSat(memory, EvictionHardBytes(memory_capacity_bytes, reservations));
  int64_t cpu = SubSat(SubSat(cpu_capacity_millis, reservations.kube_reserved_cpu_millis),
                       reservations.system_reserved_cpu_millis);
  return NodeAllocatable{
      .memory_bytes = std::max<int64_t>(memory, 0),
      .cpu_millis = std::max<int64_t>(cpu, 0),
      .pods = std::max<int64_t>(pods, 0),
  };
}

LedgerPod LedgerPodFromSizing(const Pod& pod, const PodSizing& sizing) {
  PodAggregate aggregate = AggregatePod(pod.spec);
  LedgerPod out{
      .ref = sizing.ref,
      .handler = sizing.handler,
      .vm_isolated = sizing.profile.has_value(),
      .memory_request_bytes = MemoryValue(aggregate.memory_request),
      .cpu_request_millis = CpuMillis(aggregate.cpu_request),
      .overhead_memory_bytes = sizing.overhead.declared_memory_bytes,
      .overhead_cpu_millis = sizing.overhead.declared_cpu_millis,
      .pod_cgroup_memory_unlimited = !sizing.pod_cgroup.memory_limit_bytes.has_value(),
      .refused = sizing.refusal.has_value(),
  };
  if (out.vm_isolated && sizing.uvm && sizing.host_memory_bytes) {
    out.uvm_memory_bytes = int64_t{sizing.uvm->memory_mib} * kMib;
    out.host_overhead_model_bytes = std::max<int64_t>(*sizing.host_memory_bytes - out.uvm_memory_bytes, 0);
  }
  return out;
}

int64_t SchedulerMemoryNeed(const LedgerPod& pod) {
  return AddSat(pod.memory_request_bytes.value_or(0), pod.overhead_memory_bytes);
}

int64_t HostMemoryNeed(const LedgerPod& pod) {
  if (pod.refused) return 0;
  if (pod.vm_isolated) {
    int64_t vmm = std::max(pod.host_overhead_model_bytes, pod.host_overhead_measured_bytes.value_or(0));
    return AddSat(pod.uvm_memory_bytes, vmm);
  }
  if (pod.memory_request_bytes) return SchedulerMemoryNeed(pod);
  return AddSat(pod.memory_usage_bytes.value_or(0), pod.overhead_memory_bytes);
}

int64_t CpuNeed(const LedgerPod& pod) {
  return AddSat(pod.cpu_request_millis, pod.overhead_cpu_millis);
}

const char* ViewName(LedgerView view) {
  return view == LedgerView::kScheduler ? "scheduler" : "host";
}

const char* FitResourceName(FitResource resource) {
  switch (resource) {
    case FitResource::kMemory:
      return "memory";
    case FitResource::kCpu:
      return "cpu";
    case FitResource::kPods:
      return "pods";
    case FitResource::kNone:
      break;
  }
  return "none";
}

Fit FitShape(const ViewLedger& view, const NodeAllocatable& allocatable, int64_t pods_on_node,
             const LedgerPod& shape, LedgerView which) {
  Fit fit;
  if (shape.refused) {
    fit.count = 0;  // the runtime refuses the sandbox: no pod of this shape ever runs
    return fit;
  }
  int64_t memory_need = which == LedgerView::kScheduler ? SchedulerMemoryNeed(shape) : HostMemoryNeed(shape);
  fit.by_memory = FitBy(view.free_memory_bytes, memory_need);
  fit.by_cpu = FitBy(view.free_cpu_millis, CpuNeed(shape));
  if (allocatable.pods > 0) fit.by_pods = std::max<int64_t>(allocatable.pods - pods_on_node, 0);
  // Ties name the first of memory, cpu, pods: memory is what VM pods run out of.
  for (auto [count, resource] :
       {std::pair{fit.by_memory, FitResource::kMemory}, std::pair{fit.by_cpu, FitResource::kCpu},
        std::pair{fit.by_pods, FitResource::kPods}}) {
    if (count && (!fit.count || *count < *fit.count)) {
      fit.count = count;
      fit.binding = resource;
    }
  }
  return fit;
}

NodeLedger BuildNodeLedger(std::string_view node, const NodeAllocatable& allocatable,
                           std::span<const LedgerPod> pods, std::span<const Shape> shapes) {
  NodeLedger ledger{.node = std::string(node), .allocatable = allocatable};
  int64_t unlimited_uvm_bytes = 0;
  int64_t refused = 0;
  for (const LedgerPod& pod : pods) {
    ++ledger.pods;
    if (pod.refused) ++refused;
    ledger.scheduler.committed_memory_bytes =
        AddSat(ledger.scheduler.committed_memory_bytes, SchedulerMemoryNeed(pod));
    ledger.host.committed_memory_bytes = AddSat(ledger.host.committed_memory_bytes, HostMemoryNeed(pod));
    int64_t cpu = CpuNeed(pod);
    ledger.scheduler.committed_cpu_millis = AddSat(ledger.scheduler.committed_cpu_millis, cpu);
    ledger.host.committed_cpu_millis = AddSat(ledger.host.committed_cpu_millis, cpu);
    if (!pod.memory_request_bytes) ++ledger.pods_request_unknown;
    if (pod.vm_isolated && !pod.refused) {
      ++ledger.vm_pods;
      if (pod.pod_cgroup_memory_unlimited) {
        ++ledger.vm_pods_unlimited_cgroup;
        unlimited_uvm_bytes = AddSat(unlimited_uvm_bytes, HostMemoryNeed(pod));
      }
      if (pod.host_overhead_measured_bytes &&
          *pod.host_overhead_measured_bytes > pod.host_overhead_model_bytes) {
        ++ledger.vm_pods_measured_above_model;
      }
    }
  }
  for (ViewLedger* view : {&ledger.scheduler, &ledger.host}) {
    view->free_memory_bytes = SubSat(allocatable.memory_bytes, view->committed_memory_bytes);
    view->free_cpu_millis = SubSat(allocatable.cpu_millis, view->committed_cpu_millis);
  }

  if (ledger.vm_pods_unlimited_cgroup > 0) {
    ledger.notes.push_back(
        fmt::format("{} VM pod(s) set no pod-cgroup memory limit: the kubelet does not bound them, their "
                    "UVMs do; the host "
                    "view counts {} for them",
                    ledger.vm_pods_unlimited_cgroup, Mib(unlimited_uvm_bytes)));
  }
  if (ledger.vm_pods_measured_above_model > 0) {
    ledger.notes.push_back(fmt::format(
        "{} VM pod(s) measured a VMM overhead above the model's: the host view counts the measurement",
        ledger.vm_pods_measured_above_model));
  }
  if (ledger.pods_request_unknown > 0) {
    ledger.notes.push_back(fmt::format(
        "{} pod(s) of unknown memory request (not visible over CRI): counted by their cgroup memory usage in "
        "the host view, as 0 in the scheduler view",
        ledger.pods_request_unknown));
  }
  if (refused > 0) {
    ledger.notes.push_back(fmt::format(
        "{} pod(s) the runtime refuses: the scheduler counts their requests, the host holds nothing for them",
        refused));
  }
  for (auto [view, which] :
       {std::pair{&ledger.scheduler, LedgerView::kScheduler}, std::pair{&ledger.host, LedgerView::kHost}}) {
    if (view->free_memory_bytes < 0) {
      ledger.notes.push_back(fmt::format("{} view: memory committed beyond allocatable by {}",
                                         ViewName(which), Mib(-view->free_memory_bytes)));
    }
  }

  for (const Shape& shape : shapes) {
    ShapeFit fit{
        .shape = shape.name,
        .scheduler = FitShape(ledger.scheduler, allocatable, ledger.pods, shape.pod, LedgerView::kScheduler),
        .host = FitShape(ledger.host, allocatable, ledger.pods, shape.pod, LedgerView::kHost),
    };
    if (shape.unschedulable_here) {
      fit.scheduler = Fit{.count = 0};
      fit.host = Fit{.count = 0};
    }
    if (fit.scheduler.count && fit.host.count) fit.gap = SubSat(*fit.scheduler.count, *fit.host.count);
    if (shape.unschedulable_here) {
      ledger.notes.push_back(fmt::format("shape {}: {}: none fit", shape.name, *shape.unschedulable_here));
    } else if (shape.pod.refused) {
      ledger.notes.push_back(
          fmt::format("shape {}: the runtime refuses its sandbox, so none fit", shape.name));
    } else if (shape.pod.vm_isolated && shape.pod.pod_cgroup_memory_unlimited) {
      ledger.notes.push_back(
          fmt::format("shape {}: sets no pod-cgroup memory limit; the host view counts its UVM + VMM ({})",
                      shape.name, Mib(HostMemoryNeed(shape.pod))));
    }
    ledger.fits.push_back(std::move(fit));
  }
  return ledger;
}

ClusterLedger SumLedgers(std::span<const NodeLedger> nodes) {
  ClusterLedger total;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeLedger& node = nodes[i];
    total.allocatable.memory_bytes = AddSat(total.allocatable.memory_bytes, node.allocatable.memory_bytes);
    total.allocatable.cpu_millis = AddSat(total.allocatable.cpu_millis, node.allocatable.cpu_millis);
    total.allocatable.pods = AddSat(total.allocatable.pods, node.allocatable.pods);
    for (auto [sum, part] :
         {std::pair{&total.scheduler, &node.scheduler}, std::pair{&total.host, &node.host}}) {
      sum->committed_memory_bytes = AddSat(sum->committed_memory_bytes, part->committed_memory_bytes);
      sum->committed_cpu_millis = AddSat(sum->committed_cpu_millis, part->committed_cpu_millis);
      sum->free_memory_bytes = AddSat(sum->free_memory_bytes, part->free_memory_bytes);
      sum->free_cpu_millis = AddSat(sum->free_cpu_millis, part->free_cpu_millis);
    }
    total.pods = AddSat(total.pods, node.pods);
    total.vm_pods = AddSat(total.vm_pods, node.vm_pods);
    for (size_t s = 0; s < node.fits.size(); ++s) {
      const ShapeFit& fit = node.fits[s];
      if (s >= total.fits.size()) {
        // The first node opens each shape's row with a zero count, so the sums start from 0.
        total.fits.push_back(
            ShapeFit{.shape = fit.shape, .scheduler = {.count = 0}, .host = {.count = 0}, .gap = 0});
      }
      ShapeFit& sum = total.fits[s];
      sum.scheduler.count = SumCounts(sum.scheduler.count, fit.scheduler.count);
      sum.host.count = SumCounts(sum.host.count, fit.host.count);
      sum.gap = SumCounts(sum.gap, fit.gap);
    }
  }
  return total;
}

}  // namespace uvm::sizer
