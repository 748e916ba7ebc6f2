// A pod's cgroups as uvm-sizer reads and raises them: the one place that knows the host layout, which
// writer the kubelet's cgroup driver needs (cgroupfs through kept fds, or systemd over D-Bus so that
// systemd stays the single writer of its slices; crun chooses the same way inside libcrun,
// get_cgroup_manager in src/libcrun/cgroup.c) and Kata's /kata_overhead/<sandbox-id> cgroup. The daemon's
// cgroup port and `uvm-sizer inspect` read through the same calls here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cgroups/handle.h"
#include "cgroups/layout.h"
#include "cgroups/paths.h"
#include "cgroups/sample.h"
#include "cgroups/systemd.h"

namespace uvm::cgroups {

// One pod cgroup, opened: its validated paths and a kept handle. Movable; not thread-safe.
class PodCgroup {
 public:
  const PodCgroupPaths& paths() const { return paths_; }
  CgroupDriver driver() const { return paths_.driver; }
  // "/kubepods/burstable/pod<uid>": the pod cgroup relative to the hierarchy roots.
  const std::string& path() const { return handle_.path(); }
  CgroupHandle& handle() { return handle_; }

  // Every field of CgroupSample (CgroupHandle::ReadSample: kGone when the cgroup was removed).
  Result<CgroupSample> ReadSample() { return handle_.ReadSample(); }

 private:
  friend class PodCgroups;
  PodCgroup(PodCgroupPaths paths, CgroupHandle handle)
      : paths_(std::move(paths)), handle_(std::move(handle)) {}
  PodCgroupPaths paths_;
  CgroupHandle handle_;
};

// What BoundKataOverhead did.
struct KataOverheadBound {
  std::string path;                      // "/kata_overhead/<id>"
  bool written = false;                  // false: already bounded at or above the target
  std::optional<uint64_t> before_bytes;  // nullopt: it was unlimited
  std::optional<uint64_t> after_bytes;
};

struct PodCgroupsOptions {
  std::string cgroup_root = std::string(kDefaultCgroupRoot);  // injectable: a fake tree in tests
  // The kubelet's --cgroup-root (cgroupfs driver): pod cgroups must lie beneath it.
  std::string kubelet_cgroup_root = "/";
  // D-Bus of the systemd that owns the kubelet's slices (systemd driver only).
  std::string systemd_bus = std::string(kSystemBusAddress);
  std::chrono::milliseconds systemd_timeout{2000};
};

// The host's pod cgroups. The layout is detected on first use; the D-Bus connection is opened on the
// first write to a systemd-managed pod and reopened after a failed call (the bus may have restarted).
// Not thread-safe: one per thread.
class PodCgroups {
 public:
  explicit PodCgroups(PodCgroupsOptions options = {}) : options_(std::move(options)) {}

  Result<const CgroupLayout*> Layout();

  // Validates `cgroup_parent` (ResolvePodCgroupPaths: it must name one pod cgroup beneath the kubelet's
  // cgroup root, and pod `pod_uid` when that is not empty; `sandbox_id` may be empty) before anything is
  // opened, then opens the pod cgroup. Codes: kInvalidInput (a refused path, naming the rule), kNotFound
  // (no such cgroup), or what the layout detection or the open gave.
  Result<PodCgroup> OpenPod(std::string_view cgroup_parent, std::string_view pod_uid,
                            std::string_view sandbox_id = "");

  // The sandbox's own cgroup below the pod's (a sandbox id was given to OpenPod): kNotFound without one.
  Result<CgroupSample> ReadSandboxSample(const PodCgroup& pod);

  // Raise-only: writes only when the current limit is finite and lower (CgroupHandle::RaiseMemoryLimit /
  // RaiseCpuQuota on the cgroupfs driver, SystemdUnitWriter::RaiseUnitLimits on the pod slice's unit on
  // the systemd driver). `current`, when given, is a sample of this pod read this tick: the systemd path
  // compares against it instead of reading the cgroup again.
  Result<WriteReport> RaiseMemoryLimit(PodCgroup& pod, uint64_t bytes, const CgroupSample* current = nullptr);
  Result<WriteReport> RaiseCpuQuota(PodCgroup& pod, const CpuQuota& target,
                                    const CgroupSample* current = nullptr);

  // With sandbox_cgroup_only=false Kata puts the VMM in /kata_overhead/<sandbox_id>, unlimited. This bounds
  // it: an unlimited one is set to `bytes` (once: this program owns that limit), a bounded one is only
  // ever raised. The id must be one plain name (KataOverheadPath). Codes: kInvalidInput (a bad id, nothing
  // opened), kNotFound (no such cgroup: the sandbox runs with sandbox_cgroup_only=true, or is gone).
  Result<KataOverheadBound> BoundKataOverhead(std::string_view sandbox_id, uint64_t bytes);

 private:
  Result<SystemdUnitWriter*> Systemd();
  Result<WriteReport> ViaSystemd(PodCgroup& pod, std::optional<uint64_t> memory, std::optional<CpuQuota> cpu,
                                 const CgroupSample* current);

  PodCgroupsOptions options_;
  std::optional<CgroupLayout> layout_;
  std::optional<SystemdUnitWriter> systemd_;
};

// A CgroupSample's CPU quota as CRI and the kubelet spell it: -1 for a cgroup with a cpu controller but no
// quota (unlimited), nullopt without a cpu controller, else the quota in µs per cpu_period_us.
std::optional<int64_t> CriCpuQuota(const CgroupSample& sample);

}  // namespace uvm::cgroups
