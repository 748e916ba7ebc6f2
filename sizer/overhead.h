// What the node really pays for a VM pod (SIZING.md §5): host memory = UVM + host-side VMM overhead, the
// overhead the pod needs beyond its limits, and the shortfall against what it declared. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sizer/kata.h"
#include "sizer/kubelet.h"
#include "sizer/profile.h"

namespace uvm::sizer {

// Host memory the VMM, shim and virtiofsd take beyond the guest RAM, as fixed + per GiB of guest RAM.
// Defaults (SIZING.md §5): 4.4 MiB per GiB is the slope of AKS's table of memory.current minus VM size;
// 86 MiB fixed makes a 512 MiB VM cost 88 MiB, the budget AKS reserves for it (RuntimeClass overhead 600Mi).
// Operators should measure their nodes and set both ([host_overhead] in the config, flags in the CLI).
struct HostOverheadModel {
  int64_t fixed_bytes = 86LL << 20;
  int64_t per_gib_bytes = 4613735;  // 4.4Mi, rounded up to a whole byte

  // Host-side overhead of a UVM with `uvm_memory_mib` of guest RAM, rounded up to a byte.
  int64_t OverheadBytes(uint32_t uvm_memory_mib) const;
};

struct OverheadReport {
  int64_t required_memory_bytes = 0;  // host memory the pod needs beyond the limits counted in its cgroup
  int64_t declared_memory_bytes = 0;  // spec.overhead / LinuxPodSandboxConfig.overhead
  int64_t shortfall_bytes = 0;        // max(0, required - declared)
  int64_t required_cpu_millis = 0;    // vCPUs the UVM runs beyond the pod's CPU limit
  int64_t declared_cpu_millis = 0;
};

// The sizing of one sandbox from what the runtime receives over CRI: the daemon's path, and the core of
// the manifest path.
struct SandboxSizing {
  KataSizing kata;
  std::optional<int64_t> host_memory_bytes;  // UVM + host overhead; nullopt when refused
  OverheadReport overhead;
  // What the pod cgroup must allow for the UVM not to be OOM-killed on the host: memory = host memory;
  // CPU quota = the UVM's vCPUs, at the sandbox's period. nullopt when refused.
  std::optional<int64_t> required_cgroup_memory_bytes;
  std::optional<int64_t> required_cgroup_cpu_quota_us;
};

struct DeclaredOverhead {
  int64_t memory_bytes = 0;
  int64_t cpu_millis = 0;
};

// The overhead a pod declared, from CRI's LinuxPodSandboxConfig.overhead: memory as is (a negative value
// counts as none), CPU as quota * 1000 / period millicores (none unless both are positive). The one place
// the formula is written; the daemon's reconcile and SizePod API use it.
DeclaredOverhead DeclaredFromCri(const SandboxResources& overhead);

SandboxSizing SizeSandbox(const SandboxResources& sandbox, const std::vector<ContainerResources>& containers,
                          const DeclaredOverhead& declared, const Profile& profile,
                          const HostOverheadModel& host);

}  // namespace uvm::sizer
