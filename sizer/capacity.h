// The node ledger of capacity planning (README "Capacity model"): how much of a node's allocatable the pods
// on it have committed, counted twice, and how many more pods of a given shape fit. Pure: the CLI feeds it
// from `kubectl get pods/nodes` output, the daemon from its pod table; both give the same answer for the
// same pods.
//
// - scheduler view: Σ (memory requests + spec.overhead.memory), what kube-scheduler's NodeResourcesFit counts
//   (its PodRequests adds pod overhead: kubernetes/kubernetes pkg/scheduler/framework/plugins/noderesources,
//   component-helpers resource.PodRequests);
// - host view: Σ of each pod's host need: for a VM pod its UVM memory plus the VMM's host overhead (the
// larger
//   of the model and the measurement, when measured), whatever its requests or cgroup say; for any other pod
//   its memory request, as the scheduler counts it.
// CPU is compressible: both views count CPU requests + spec.overhead.cpu, never vCPUs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sizer/pod.h"
#include "sizer/size_pod.h"

namespace uvm::sizer {

// The kubelet's reservations that make allocatable smaller than capacity (Node Allocatable:
// kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources): allocatable = capacity -
// kube-reserved - system-reserved - the hard eviction threshold (memory only).
struct KubeletReservations {
  int64_t kube_reserved_memory_bytes = 0;
  int64_t system_reserved_memory_bytes = 0;
  int64_t kube_reserved_cpu_millis = 0;
  int64_t system_reserved_cpu_millis = 0;
  // evictionHard memory.available: an absolute quantity, or a percentage of memory capacity. The kubelet's
  // default is 100Mi (pkg/kubelet/eviction/defaults_linux.go), which applies when neither is set.
  std::optional<int64_t> eviction_hard_memory_bytes;
  std::optional<double> eviction_hard_memory_percent;
  bool operator==(const KubeletReservations&) const = default;
};

// What the scheduler may place on a node. `pods` 0 = no pod-count limit known.
struct NodeAllocatable {
  int64_t memory_bytes = 0;
  int64_t cpu_millis = 0;
  int64_t pods = 0;
  bool operator==(const NodeAllocatable&) const = default;
};

// capacity - reservations, clamped at 0 (the kubelet's GetNodeAllocatableReservation and
// getNodeAllocatable, pkg/kubelet/cm/node_container_manager_linux.go).
NodeAllocatable AllocatableFromCapacity(int64_t memory_capacity_bytes, int64_t cpu_capacity_millis,
                                        int64_t pods, const KubeletReservations& reservations);

// One pod on the node, as the ledger counts it. Built by LedgerPodFromSizing (manifests) or by the daemon
// from CRI.
struct LedgerPod {
  ObjectRef ref;
  std::string uid;
  std::string handler;
  bool vm_isolated = false;
  // Σ memory requests (init and sidecar rules applied: AggregatePod); nullopt when not known (the daemon
  // cannot see requests over CRI).
  std::optional<int64_t> memory_request_bytes;
  int64_t cpu_request_millis = 0;
  // spec.overhead (the RuntimeClass's podFixed after admission).
  int64_t overhead_memory_bytes = 0;
  int64_t overhead_cpu_millis = 0;
  // VM pods: the guest RAM of the UVM and the model's host overhead of its VMM (HostOverheadModel).
  int64_t uvm_memory_bytes = 0;
  int64_t host_overhead_model_bytes = 0;
  // VM pods: the VMM's host overhead as measured (pod cgroup usage - guest memory in use), when measured.
  std::optional<int64_t> host_overhead_measured_bytes;
  // The pod cgroup has no memory limit: the host view still bounds a VM pod by its UVM.
  bool pod_cgroup_memory_unlimited = false;
  // A pod whose memory request is unknown (memory_request_bytes nullopt) is counted by this, when set:
  // what its cgroup uses now.
  std::optional<int64_t> memory_usage_bytes;
  // The runtime would refuse the sandbox: it holds nothing.
  bool refused = false;
};

// A pod of this manifest placed on a node, pod by pod: from a sizing done with the node's own rules.
LedgerPod LedgerPodFromSizing(const Pod& pod, const PodSizing& sizing);

// Host memory the pod holds: a VM pod's UVM + max(model, measured) overhead; any other pod's memory request
// (else its usage, else 0). 0 for a refused pod.
int64_t HostMemoryNeed(const LedgerPod& pod);
// Memory the scheduler counts: requests + overhead (0 for an unknown request).
int64_t SchedulerMemoryNeed(const LedgerPod& pod);
int64_t CpuNeed(const LedgerPod& pod);  // requests + overhead, millicores

enum class LedgerView { kScheduler, kHost };
const char* ViewName(LedgerView view);  // "scheduler", "host"

enum class FitResource { kMemory, kCpu, kPods, kNone };
const char* FitResourceName(FitResource resource);  // "memory", "cpu", "pods", "none"

// How many more pods of one shape fit in one view: floor(free / need) per resource, the smallest wins
// and names the binding resource. A resource the shape does not use does not bind; when none binds
// (a shape with no requests on a node with no pod limit), `count` is nullopt: unbounded, binding kNone.
// A free amount below zero fits 0.
struct Fit {
  std::optional<int64_t> count;
  FitResource binding = FitResource::kNone;
  std::optional<int64_t> by_memory;
  std::optional<int64_t> by_cpu;
  std::optional<int64_t> by_pods;
};

// A named shape and what one more pod of it needs. Refused shapes (the runtime would refuse the sandbox)
// fit nothing.
struct Shape {
  std::string name;
  LedgerPod pod;
  // Why the scheduler places no pod of this shape on this node whatever is free (the node is cordoned, or
  // lacks a label of its RuntimeClass's scheduling.nodeSelector): both views then fit 0, with this note.
  std::optional<std::string> unschedulable_here;
};

struct ViewLedger {
  int64_t committed_memory_bytes = 0;
  int64_t committed_cpu_millis = 0;
  int64_t free_memory_bytes = 0;  // allocatable - committed; negative when overcommitted
  int64_t free_cpu_millis = 0;
};

struct ShapeFit {
  std::string shape;
  Fit scheduler;
  Fit host;
  // scheduler.count - host.count: pods the scheduler would still admit that the host cannot hold; nullopt
  // when either is unbounded.
  std::optional<int64_t> gap;
};

struct NodeLedger {
  std::string node;
  NodeAllocatable allocatable;
  ViewLedger scheduler;
  ViewLedger host;
  int64_t pods = 0;
  int64_t vm_pods = 0;
  // VM pods whose pod cgroup sets no memory limit: bounded on the host by their UVM only.
  int64_t vm_pods_unlimited_cgroup = 0;
  // Pods whose memory request is not known (counted by their usage, or 0).
  int64_t pods_request_unknown = 0;
  // VM pods counted with a measured overhead larger than the model's.
  int64_t vm_pods_measured_above_model = 0;
  std::vector<ShapeFit> fits;  // in the order of the shapes given
  std::vector<std::string> notes;
};

NodeLedger BuildNodeLedger(std::string_view node, const NodeAllocatable& allocatable,
                           std::span<const LedgerPod> pods, std::span<const Shape> shapes);

Fit FitShape(const ViewLedger& view, const NodeAllocatable& allocatable, int64_t pods_on_node,
             const LedgerPod& shape, LedgerView which);

// The cluster row: sums of allocatable, committed, free (negative free included) and fit per shape and view
// (an unbounded node fit makes the total unbounded).
struct ClusterLedger {
  NodeAllocatable allocatable;
  ViewLedger scheduler;
  ViewLedger host;
  int64_t pods = 0;
  int64_t vm_pods = 0;
  std::vector<ShapeFit> fits;
};
ClusterLedger SumLedgers(std::span<const NodeLedger> nodes);

}  // namespace uvm::sizer
