#include "sizer/overhead.h"

#include <algorithm>

namespace uvm::sizer {
namespace {
constexpr int64_t kMib = 1 << 20;
constexpr int64_t kDefaultCpuPeriodUs = 100000;
}  // namespace

int64_t HostOverheadModel::OverheadBytes(uint32_t uvm_memory_mib) const {
  __int128 per_gib = static_cast<__int128>(per_gib_bytes) * uvm_memory_mib;
  return fixed_bytes + static_cast<int64_t>((per_gib + 1023) / 1024);
}

DeclaredOverhead DeclaredFromCri(const SandboxResources& overhead) {
  DeclaredOverhead out{.memory_bytes = std::max<int64_t>(overhead.memory_limit_in_bytes, 0)};
  if (overhead.cpu_period > 0 && overhead.cpu_quota > 0) {
    out.cpu_millis = overhead.cpu_quota * 1000 / overhead.cpu_period;
  }
  return out;
}

SandboxSizing SizeSandbox(const SandboxResources& sandbox, const std::vector<ContainerResources>& containers,
                          const DeclaredOverhead& declared, const Profile& profile,
                          const HostOverheadModel& host) {
  SandboxSizing out;
  out.kata = SizeUvm(sandbox, containers, profile);
  out.overhead.declared_memory_bytes = declared.memory_bytes;
  out.overhead.declared_cpu_millis = declared.cpu_millis;
  if (!out.kata.uvm) return out;
  const UvmSize& uvm = *out.kata.uvm;
  int64_t uvm_bytes = static_cast<int64_t>(uvm.memory_mib) * kMib;
  int64_t host_bytes = uvm_bytes + host.OverheadBytes(uvm.memory_mib);
  out.host_memory_bytes = host_bytes;
  // The pod cgroup holds the limits plus the declared overhead: the overhead must cover the rest.
  int64_t limits_bytes = std::max<int64_t>(sandbox.memory_limit_in_bytes, 0);
  out.overhead.required_memory_bytes = std::max<int64_t>(host_bytes - limits_bytes, 0);
  out.overhead.shortfall_bytes =
      std::max<int64_t>(out.overhead.required_memory_bytes - declared.memory_bytes, 0);

  int64_t period = sandbox.cpu_period > 0 ? sandbox.cpu_period : kDefaultCpuPeriodUs;
  int64_t limit_millis = sandbox.cpu_quota > 0 ? sandbox.cpu_quota * 1000 / period : 0;
  out.overhead.required_cpu_millis =
      std::max<int64_t>(static_cast<int64_t>(uvm.vcpus) * 1000 - limit_millis, 0);
  out.required_cgroup_memory_bytes = host_bytes;
  out.required_cgroup_cpu_quota_us = static_cast<int64_t>(uvm.vcpus) * period;
  return out;
}

}  // namespace uvm::sizer
