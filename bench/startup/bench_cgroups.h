// The pod cgroups of a run, made the way the kubelet's cgroupfs driver makes them before RunPodSandbox
// (pkg/kubelet/cm/pod_container_manager_linux.go EnsureExists, limits from helpers_linux.go
// ResourceConfigForPod: memory Σ limits + overhead, CFS quota likewise, shares from requests + overhead),
// all beneath one cgroup root of the run's own ("/uvm-sizer-startup-<run id>"), never under a cgroup the
// kubelet owns; and their removal afterwards, in every hierarchy (runc makes the pod path in each v1
// hierarchy, not only memory and cpu).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace uvm::startup {

struct PodCgroupSpec {
  std::string cgroup_parent;  // "/<root>/kubepods/burstable/pod<uid>"
  std::optional<int64_t> memory_limit_bytes;
  std::optional<int64_t> cpu_quota_us;  // nullopt: unlimited
  int64_t cpu_period_us = 100000;
  int64_t cpu_shares = 2;
};

class BenchCgroups {
 public:
  // The hierarchies of the host (every cgroup and cgroup2 mount beneath /sys/fs/cgroup).
  static Result<BenchCgroups> Detect();

  // mkdir -p the pod cgroup in every hierarchy, then write the limits (v1 memory.limit_in_bytes,
  // cpu.cfs_period_us/cfs_quota_us/shares; v2 memory.max, cpu.max, cpu.weight after enabling the
  // controllers on the way down). The error names the file.
  Status CreatePod(const PodCgroupSpec& spec) const;
  // rmdir the pod cgroup (and what runc left beneath it), deepest first, in every hierarchy. A cgroup
  // still in use is retried for up to `patience_ms` (runc removes its sandbox cgroup asynchronously).
  Status RemovePod(const std::string& cgroup_parent, int patience_ms = 2000) const;
  // Removes `root` and everything beneath it in every hierarchy (the end of a run, SIGINT included).
  Status RemoveTree(const std::string& root, int patience_ms = 5000) const;
  // Whether `cgroup_path` exists in any hierarchy (tests, the end-of-run check).
  bool Exists(const std::string& cgroup_path) const;

  const std::vector<std::string>& mount_points() const { return mounts_; }

 private:
  explicit BenchCgroups(std::vector<std::string> mounts) : mounts_(std::move(mounts)) {}
  std::vector<std::string> mounts_;
};

}  // namespace uvm::startup
