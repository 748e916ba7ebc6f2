#include "cgroups/pod_cgroup.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {

Result<const CgroupLayout*> PodCgroups::Layout() {
  if (!layout_) {
    auto layout = DetectLayout(options_.cgroup_root);
    if (!layout) return layout.error();
    layout_ = std::move(*layout);
  }
  return &*layout_;
}

Result<PodCgroup> PodCgroups::OpenPod(std::string_view cgroup_parent, std::string_view pod_uid,
                                      std::string_view sandbox_id) {
  PathRules rules{.kubelet_cgroup_root = options_.kubelet_cgroup_root, .pod_uid = std::string(pod_uid)};
  // The path rules first: a refused cgroup_parent opens nothing, not even the layout's mountinfo.
  auto paths = ResolvePodCgroupPaths(cgroup_parent, sandbox_id, rules);
  if (!paths) return paths.error();
  auto layout = Layout();
  if (!layout) return layout.error();
  auto handle = CgroupHandle::Open(**layout, paths->pod);
  if (!handle) return handle.error();
  return PodCgroup(std::move(*paths), std::move(*handle));
}

Result<CgroupSample> PodCgroups::ReadSandboxSample(const PodCgroup& pod) {
  if (pod.paths().sandbox.empty()) {
    return Error{.message = fmt::format("{}: no sandbox id given, so no sandbox cgroup", pod.path()),
                 .code = ErrorCode::kNotFound};
  }
  auto layout = Layout();
  if (!layout) return layout.error();
  auto handle = CgroupHandle::Open(**layout, pod.paths().sandbox);
  if (!handle) return handle.error();
  return handle->ReadSample();
}

Result<SystemdUnitWriter*> PodCgroups::Systemd() {
  if (!systemd_) {
    auto writer = SystemdUnitWriter::Connect(options_.systemd_bus, options_.systemd_timeout);
    if (!writer) return writer.error();
    systemd_.emplace(std::move(*writer));
  }
  return &*systemd_;
}

Result<WriteReport> PodCgroups::ViaSystemd(PodCgroup& pod, std::optional<uint64_t> memory,
                                           std::optional<CpuQuota> cpu, const CgroupSample* current) {
  auto writer = Systemd();
  if (!writer) {
    return WithMessage(writer.error(), fmt::format("systemd-managed {}: {}", pod.paths().systemd_unit,
                                                   writer.error().message));
  }
  std::optional<CgroupSample> read;
  if (!current) {
    auto sample = pod.ReadSample();
    if (!sample) return sample.error();
    read = std::move(*sample);
    current = &*read;
  }
  auto report = (*writer)->RaiseUnitLimits(pod.paths().systemd_unit, *current, memory, cpu);
  if (!report) systemd_.reset();  // reconnect next time: the bus may have restarted
  return report;
}

Result<WriteReport> PodCgroups::RaiseMemoryLimit(PodCgroup& pod, uint64_t bytes,
                                                 const CgroupSample* current) {
  if (pod.driver() == CgroupDriver::kSystemd) return ViaSystemd(pod, bytes, std::nullopt, current);
  return pod.handle().RaiseMemoryLimit(bytes);
}

Result<WriteReport> PodCgroups::RaiseCpuQuota(PodCgroup& pod, const CpuQuota& target,
                                              const CgroupSample* current) {
  if (pod.driver() == CgroupDriver::kSystemd) return ViaSystemd(pod, std::nullopt, target, current);
  return pod.handle().RaiseCpuQuota(target);
}

Result<KataOverheadBound> PodCgroups::BoundKataOverhead(std::string_view sandbox_id, uint64_t bytes) {
  auto path = KataOverheadPath(sandbox_id);
  if (!path) return path.error();
  auto layout = Layout();
  if (!layout) return layout.error();
  auto handle = CgroupHandle::Open(**layout, *path);
  if (!handle) return handle.error();
  KataOverheadBound out{.path = handle->path()};
  auto sample = handle->ReadSample();
  if (!sample) return sample.error();
  if (!sample->memory_limit_bytes) {
    // Kata leaves this cgroup unlimited, and nothing else writes its limit: set it once.
    auto written = handle->SetMemoryLimit(bytes);
    if (!written) return written.error();
    out.written = true;
    out.after_bytes = *written;
    return out;
  }
  auto report = handle->RaiseMemoryLimit(bytes);
  if (!report) return report.error();
  out.written = report->written();
  out.before_bytes = report->before;
  out.after_bytes = report->after;
  return out;
}

std::optional<int64_t> CriCpuQuota(const CgroupSample& sample) {
  if (!sample.cpu_period_us) return std::nullopt;
  if (!sample.cpu_quota_us) return -1;
  return static_cast<int64_t>(std::min<uint64_t>(*sample.cpu_quota_us, INT64_MAX));
}

}  // namespace uvm::cgroups
