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

// virtcontainers/hypervisor.go defaultVCPUs and defaultMemSzMiB.
constexpr float kHypervisorDefaultVcpus = 1;
constexpr uint32_t kHypervisorDefaultMemoryMib = 2048;

// virtcontainers/hypervisor_config_linux.go validateHypervisorConfig (called by newSandbox, after
// SandboxConfig has added the workload): `if conf.NumVCPUsF == 0 { conf.NumVCPUsF = defaultVCPUs }`, and
// likewise a MemorySize of 0 becomes defaultMemSzMiB. Kata's own vCPU-allocation test relies on it: a pod
// with default_vcpus "0" and no CPU limit sees one CPU (tests/integration/kubernetes/
// k8s-sandbox-vcpus-allocation.bats).
void ApplyHypervisorDefaults(float vcpus_f, UvmSize& uvm, std::vector<std::string>& notes) {
  if (vcpus_f == 0) {
    uvm.vcpus = static_cast<uint32_t>(kHypervisorDefaultVcpus);
    notes.push_back("the sandbox adds up to 0 vCPUs: the hypervisor boots with its default of 1");
  }
  if (uvm.memory_mib == 0) {
    uvm.memory_mib = kHypervisorDefaultMemoryMib;
    notes.push_back(
        fmt::format("the sandbox adds up to 0 MiB: the hypervisor boots with its default of {} MiB",
                    kHypervisorDefaultMemoryMib));
  }
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
  ApplyHypervisorDefaults(profile.base_vcpus + wcpu, uvm, out.notes);
  ApplyCaps(profile, uvm, out.notes);
  out.uvm = uvm;
  return out;
}

KataSizing SizeDynamic(const std::vector<ContainerResources>& containers, const Profile& profile) {
  KataSizing out;
  // virtcontainers/sandbox.go updateResources runs at every container's creation; calculateSandboxCPUs
  // and calculateSandboxMemory skip containers in StateStopped ("Do not hot add again non-running
  // containers resources"). So while init container i runs, the set is the sidecars declared before it
  // and i itself (the earlier plain init containers have exited); then the sidecars and the regular
  // containers, added one by one.
  //
  // vCPUs: calculateSandboxCPUs sums float32(quota)/float32(period) from zero in container order, and
  // only then does updateResources add the base (`sandboxVCPUs += NumVCPUsF`); float32 rounds that order
  // differently from starting at the base. ResizeVCPUs follows the set down as well as up, so the final
  // set decides: plain init containers do not count.
  float workload = 0;
  for (const auto& c : containers) {
    if (c.init && !c.sidecar) continue;
    workload += CpusFromQuota(c.cpu_quota, c.cpu_period);
  }
  // A zero base boots one vCPU (validateHypervisorConfig), and updateResources adds the hypervisor's
  // NumVCPUsF, which that call has set to 1.
  float base_vcpus = profile.base_vcpus == 0 ? kHypervisorDefaultVcpus : profile.base_vcpus;
  if (profile.base_vcpus == 0) out.notes.push_back("default_vcpus 0: the hypervisor boots with 1 vCPU");
  float cpus = workload + base_vcpus;
  // Memory: Σ running limits in bytes (limits <= 0 count as none), plus the base << 20, then >> 20
  // (updateResources: `newMemoryMB := uint32(sandboxMemoryByte >> utils.MibToBytesShift)`). The
  // hypervisor hot-adds the delta in blocks and never removes memory (qemu.go ResizeMemory: "memory hot
  // unplug is not supported"), so the UVM keeps its high-water mark.
  uint32_t block = profile.memory_block_mib == 0 ? 1 : profile.memory_block_mib;
  uint32_t base_memory_mib =
      profile.base_memory_mib == 0 ? kHypervisorDefaultMemoryMib : profile.base_memory_mib;
  uint64_t current = base_memory_mib;
  uint64_t workload_memory_bytes = 0;
  auto resize = [&](uint64_t running_bytes) {
    uint64_t bytes = running_bytes + (static_cast<uint64_t>(base_memory_mib) << 20);
    uint64_t needed = static_cast<uint32_t>(bytes >> 20);
    if (needed > current) current += (needed - current + block - 1) / block * block;
  };
  auto limit_bytes = [](const ContainerResources& c) {
    return c.memory_limit_in_bytes > 0 ? static_cast<uint64_t>(c.memory_limit_in_bytes) : 0;
  };
  // Init containers come first (ContainerResourcesForPod's order), so while a plain init container runs
  // the running set is the sidecars so far plus itself.
  for (const auto& c : containers) {
    if (c.init && !c.sidecar) {
      resize(workload_memory_bytes + limit_bytes(c));
      continue;
    }
    workload_memory_bytes += limit_bytes(c);
    resize(workload_memory_bytes);
  }
  UvmSize uvm;
  uvm.workload_vcpus = workload;
  uvm.workload_memory_mib = static_cast<uint32_t>(workload_memory_bytes >> 20);
  uvm.vcpus = CeilVcpus(cpus);
  uvm.memory_mib = static_cast<uint32_t>(current);
  out.notes.push_back(
      fmt::format("dynamic sizing: boots with {} MiB and hot-adds container limits in {} MiB blocks",
                  base_memory_mib, block));
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
