// Kata sizing: sandbox resources -> the UVM the runtime boots (SIZING.md §3), bit-exact with the Go runtime
// (kata-containers src/runtime/pkg/oci/utils.go calculateVMResources and SandboxConfig; virtcontainers/utils
// CalculateCPUsF), including its float32 arithmetic. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sizer/kubelet.h"
#include "sizer/profile.h"

namespace uvm::sizer {

struct UvmSize {
  uint32_t vcpus = 0;
  uint32_t memory_mib = 0;
  float workload_vcpus = 0;  // float32, as the runtime keeps it
  uint32_t workload_memory_mib = 0;
};

struct KataSizing {
  std::optional<UvmSize> uvm;  // nullopt when the runtime refuses the sandbox
  // The runtime's refusal, worded as the runtime words it ("pod memory limit too low: minimum 128MiB, got
  // 100MiB").
  std::optional<std::string> refusal;
  // What the runtime silently did that a person should know (defaults applied, caps, wrap-around).
  std::vector<std::string> notes;
};

// The UVM for a sandbox: static profiles use the sandbox resources once at boot; dynamic ones boot the
// base and hot-add each container's limits (containers in creation order).
KataSizing SizeUvm(const SandboxResources& sandbox, const std::vector<ContainerResources>& containers,
                   const Profile& profile);

// Kata's CalculateCPUsF: float32(quota) / float32(period) when quota >= 0 and period != 0, else 0.
float CpusFromQuota(int64_t quota, int64_t period);
// Kata's calculateVMResources memory: MiB floored, negative = 0, converted to uint32 as Go does (wraps).
uint32_t MibFromBytes(int64_t bytes);

}  // namespace uvm::sizer
