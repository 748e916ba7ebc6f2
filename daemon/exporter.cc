#include "daemon/exporter.h"

#include "daemon/startup_profile.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

constexpr int64_t kMib = 1 << 20;

metrics::PodSizingMetrics SizingOf(const PodState& pod) {
  metrics::PodSizingMetrics m;
  m.vm_isolated = pod.vm_isolated();
  if (pod.vm_isolated() && pod.sizing.kata.uvm) {
    m.uvm_vcpus = pod.sizing.kata.uvm->vcpus;
    m.uvm_memory_bytes = static_cast<int64_t>(pod.sizing.kata.uvm->memory_mib) * kMib;
    m.host_memory_bytes = pod.sizing.host_memory_bytes;
    m.overhead_required_bytes = pod.sizing.overhead.required_memory_bytes;
    m.overhead_declared_bytes = pod.sizing.overhead.declared_memory_bytes;
  }
  if (pod.cgroup) {
    m.cgroup_memory_limit_bytes = pod.cgroup->memory_limit_bytes;
    m.cgroup_memory_usage_bytes = pod.cgroup->memory_usage_bytes;
  }
  m.host_overhead_measured_bytes = pod.host_overhead_measured_bytes;
  return m;
}

metrics::PodPressureMetrics PressureOf(const PodState& pod, const sizer::PressureAssessment& a) {
  metrics::PodPressureMetrics m;
  if (a.basis == sizer::PressureBasis::kGuest) {
    m.guest_memory_available_bytes = a.available_bytes;
    for (const auto& mount : pod.last_mounts) m.guest_filesystem_bytes[mount.mount] = mount.used_bytes;
  }
  for (const auto& g : a.GrowthByCause()) {
    if (g.kind == sizer::PressureCauseKind::kNone) continue;
    m.memory_growth_bytes_per_second[std::string(sizer::CauseLabel(g.kind))] = g.bytes_per_second;
  }
  m.memory_exhaustion_seconds = a.seconds_left;
  m.pressure_level = static_cast<int>(a.level);
  m.oom_kills_total = pod.oom_kills_total;
  return m;
}

std::string_view MemoryBucketOf(const PodState& pod) {
  if (!pod.vm_isolated() || !pod.sizing.kata.uvm) return UvmMemoryBucket(std::nullopt);
  return UvmMemoryBucket(static_cast<int64_t>(pod.sizing.kata.uvm->memory_mib));
}

}  // namespace

void Exporter::ObserveSandboxStart(const PodState& pod, double seconds) {
  metrics_.ObserveSandboxStart(pod.summary().runtime_handler, MemoryBucketOf(pod), seconds);
}

void Exporter::ObserveShimCreate(const PodState& pod, double seconds) {
  metrics_.ObserveShimCreate(pod.summary().runtime_handler, MemoryBucketOf(pod), seconds);
}

void Exporter::CountStartSkipped(std::string_view reason) {
  metrics_.CountSandboxStartSkipped(reason);
}

size_t Exporter::Flush(const PodTable& table) {
  size_t n = dirty_.size();
  for (const auto& uid : dirty_) Sync(table, uid);
  dirty_.clear();
  return n;
}

void Exporter::Sync(const PodTable& table, const std::string& uid) {
  const PodState* pod = table.Exported(uid);
  if (!pod) {
    metrics_.RemovePod(uid);
    return;
  }
  const auto& s = pod->summary();
  metrics::PodLabels labels{s.namespace_, s.name, s.uid, s.runtime_handler};
  if (pod->watched() && pod->pressure) {
    metrics_.UpsertPodPressure(labels, PressureOf(*pod, *pod->pressure));
  } else {
    metrics_.RemovePodPressure(uid);
  }
  metrics_.UpsertPod(labels, SizingOf(*pod));
}

void Exporter::PublishNode(const sizer::NodeLedger& ledger, std::span<const sizer::Shape> shapes) {
  metrics::NodeMetrics m;
  m.allocatable_memory_bytes = ledger.allocatable.memory_bytes;
  m.allocatable_cpu_millis = ledger.allocatable.cpu_millis;
  if (ledger.allocatable.pods > 0) m.allocatable_pods = ledger.allocatable.pods;
  m.committed_memory_bytes = ledger.host.committed_memory_bytes;
  m.committed_cpu_millis = ledger.host.committed_cpu_millis;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const sizer::Shape& shape = shapes[i];
    metrics::ShapeMetrics s{.shape = shape.name,
                            .host_fit = std::nullopt,
                            .scheduler_memory_bytes = sizer::SchedulerMemoryNeed(shape.pod),
                            .host_memory_bytes = sizer::HostMemoryNeed(shape.pod),
                            .cpu_millis = sizer::CpuNeed(shape.pod)};
    if (i < ledger.fits.size()) s.host_fit = ledger.fits[i].host.count;
    m.shapes.push_back(std::move(s));
  }
  metrics_.SetNode(m);
}

}  // namespace uvm::daemon
