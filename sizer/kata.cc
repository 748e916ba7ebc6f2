#include "sizer/kata.h"

#include <cmath>

#include <fmt/format.h>

namespace uvm::sizer {
namespace {

constexpr int64_t kMib = 1 << 20;

// HypervisorConfig.NumVCPUs(): uint32(math.Ceil(float64(NumVCPUsF))).
uint32_t CeilVcpus(float vcpus) {
  return static_cast<uint32_t>(std::ceil(static_cast<double>(vcpus)));
}

void ApplyCaps(const Profile& profile, UvmSize& uvm, std::vector<std::string>& notes) {
  // [I] The runtime caps vCPUs at default_maxvcpus (itself capped at the host's CPUs) in katautils'
  // defaultMaxVCPUs; a profile without max_vcpus has no known cap.
  if (profile.max_vcpus != 0 && uvm.vcpus > profile.max_vcpus) {
    notes.push_back(fmt::format("vCPUs capped at default_maxvcpus {} (the pod asked for {})",
                                profile.max_vcpus, uvm.vcpus));
    uvm.vcpus = profile.max_vcpus;
  }
  if (profile.max_memory_mib != 0 && uvm.memory_mib > profile.max_memory_mib) {
    notes.push_back(
        fmt::format("UVM memory {} MiB is above default_maxmemory {} MiB: the hypervisor may refuse it",
                    uvm.memory_mib, profile.max_memory_mib));
  }
}

KataSizing SizeStatic(const SandboxResources& sandbox, const Profile& profile) {
  KataSizing out;
  float wcpu = CpusFromQuota(sandbox.cpu_quota, sandbox.cpu_period);
  // Upstream static sizing falls back to shares when there is no quota (exclusive-CPU pods).
  if (profile.shares_fallback && sandbox.cpu_quota < 0 && wcpu == 0 && sandbox.cpu_shares > 0) {
    wcpu = static_cast<float>(std::ceil(static_cast<double>(sandbox.cpu_shares) / 1024.0));
    out.notes.push_back(fmt::format("no CPU quota: {} vCPUs from cpu_shares {}", wcpu, sandbox.cpu_shares));
  }
  uint32_t wmem = MibFromBytes(sandbox.memory_limit_in_bytes);
  if (sandbox.memory_limit_in_bytes > 0 &&
      static_cast<uint64_t>(sandbox.memory_limit_in_bytes) / kMib != wmem) {
    out.notes.push_back(
        fmt::format("memory limit {} bytes overflows the runtime's uint32 MiB: it sizes {} MiB",
                    sandbox.memory_limit_in_bytes, wmem));
  }
  // Microsoft fork (static_sandbox_default_workload_mem / _vcpus, sandbox_workload_mem_min).
  if (profile.default_workload_mem_mib != 0 && wmem == 0) {
    wmem = profile.default_workload_mem_mib;
    out.notes.push_back(fmt::format("no memory limit: the runtime adds a default {} MiB", wmem));
  }
  if (profile.default_workload_vcpus != 0 && wcpu == 0) {
    wcpu = static_cast<float>(profile.default_workload_vcpus);
    out.notes.push_back(
        fmt::format("no CPU limit: the runtime adds a default {} vCPU", profile.default_workload_vcpus));
  }
  if (profile.workload_mem_min_mib != 0 && wmem < profile.workload_mem_min_mib) {
    out.refusal =
        fmt::format("pod memory limit too low: minimum {}MiB, got {}MiB", profile.workload_mem_min_mib, wmem);
    return out;
  }
  UvmSize uvm;
  uvm.workload_vcpus = wcpu;
  uvm.workload_memory_mib = wmem;
  uvm.vcpus = CeilVcpus(profile.base_vcpus + wcpu);  // float32 add, ceil once
  uvm.memory_mib = profile.base_memory_mib + wmem;   // uint32, as MemorySize is
  ApplyCaps(profile, uvm, out.notes);
  out.uvm = uvm;
  return out;
}

KataSizing SizeDynamic(const std::vector<ContainerResources>& containers, const Profile& profile) {
  KataSizing out;
  // [I] vCPUs: the running set (sidecars and regular containers; plain init containers have exited and
  // their vCPUs were hot-removed) summed in float32, in creation order.
  float cpus = profile.base_vcpus;
  float workload = 0;
  for (const auto& c : containers) {
    if (c.init && !c.sidecar) continue;
    float w = CpusFromQuota(c.cpu_quota, c.cpu_period);
    cpus += w;
    workload += w;
  }
  // Memory is hot-added per container, in blocks, and never removed: the UVM keeps its high-water mark.
  uint32_t block = profile.memory_block_mib == 0 ? 1 : profile.memory_block_mib;
  uint64_t current = profile.base_memory_mib;
  uint64_t needed = profile.base_memory_mib;
  for (const auto& c : containers) {
    needed += MibFromBytes(c.memory_limit_in_bytes);
    if (needed > current) current += (needed - current + block - 1) / block * block;
  }
  UvmSize uvm;
  uvm.workload_vcpus = workload;
  uvm.workload_memory_mib = static_cast<uint32_t>(needed - profile.base_memory_mib);
  uvm.vcpus = CeilVcpus(cpus);
  uvm.memory_mib = static_cast<uint32_t>(current);
  out.notes.push_back(
      fmt::format("dynamic sizing: boots with {} MiB and hot-adds container limits in {} MiB blocks",
                  profile.base_memory_mib, block));
  ApplyCaps(profile, uvm, out.notes);
  out.uvm = uvm;
  return out;
}

}  // namespace

float CpusFromQuota(int64_t quota, int64_t period) {
  if (quota >= 0 && period != 0)
    return static_cast<float>(quota) / static_cast<float>(static_cast<uint64_t>(period));
  return 0;
}

uint32_t MibFromBytes(int64_t bytes) {
  if (bytes < 0) return 0;
  return static_cast<uint32_t>(bytes / 1024 / 1024);  // Go's uint32() conversion keeps the low 32 bits
}

KataSizing SizeUvm(const SandboxResources& sandbox, const std::vector<ContainerResources>& containers,
                   const Profile& profile) {
  return profile.mode == SizingMode::kStatic ? SizeStatic(sandbox, profile)
                                             : SizeDynamic(containers, profile);
}

}  // namespace uvm::sizer
