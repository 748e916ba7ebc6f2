// Limits of systemd-managed cgroups (the kubelet's systemd driver) go through systemd, never straight to
// cgroupfs, so that systemd stays the single writer of its slices (it would rewrite our values on its
// next reload). The same call runc, crun and the kubelet make: org.freedesktop.systemd1.Manager.
// SetUnitProperties(unit, runtime=true, [(name, variant)]) (org.freedesktop.systemd1(5)).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cgroups/sample.h"

struct sd_bus;

namespace uvm::cgroups {

inline constexpr std::string_view kSystemBusAddress = "unix:path=/run/dbus/system_bus_socket";

// The properties we set; unset ones are not sent.
struct SystemdUnitLimits {
  std::optional<uint64_t> memory_max_bytes;        // MemoryMax (t)
  std::optional<uint64_t> cpu_quota_per_sec_usec;  // CPUQuotaPerSecUSec (t): CPU time per second of wall time
};

// CPUQuotaPerSecUSec for a CFS quota: quota per period scaled to one second, rounded up.
uint64_t CpuQuotaPerSecUSec(const CpuQuota& quota);

// One private connection to a D-Bus. Not thread-safe (sd-bus objects belong to one thread); movable.
class SystemdUnitWriter {
 public:
  // Connects to `address` (a D-Bus address such as kSystemBusAddress or "unix:path=/tmp/x/bus"; empty:
  // the system bus as sd-bus finds it). `timeout` bounds every method call.
  static Result<SystemdUnitWriter> Connect(
      std::string_view address, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  SystemdUnitWriter(SystemdUnitWriter&& other) noexcept;
  SystemdUnitWriter& operator=(SystemdUnitWriter&& other) noexcept;
  ~SystemdUnitWriter();

  // Sends SetUnitProperties(unit, true, [...]) with the set fields of `limits` (nothing is sent when none
  // is set). `unit` must be a unit name ("kubepods-burstable-pod<uid>.slice"). Errors carry the D-Bus
  // error name and message ("org.freedesktop.systemd1.NoSuchUnit: Unit x.slice not loaded.") and a code
  // from the name: NoSuchUnit kNotFound, ServiceUnknown/NameHasNoOwner/Disconnected kUnavailable,
  // NoReply/Timeout kDeadline, AccessDenied kPermission, InvalidArgs kInvalidInput, Unknown{Method,Object,
  // Interface,Property}/PropertyReadOnly kUnsupported; else from the errno sd-bus returned.
  Status SetUnitProperties(std::string_view unit, const SystemdUnitLimits& limits);

  // Raise-only, like CgroupHandle::RaiseMemoryLimit / RaiseCpuQuota: compares the targets with `current`
  // (a sample of the unit's own cgroup) and asks systemd only for what is finite and lower, in one call
  // (none when nothing is lower). The report's changes list both properties; its before/after describe
  // memory when `memory_bytes` is set, else the CPU quota per `cpu->period_us`.
  Result<WriteReport> RaiseUnitLimits(std::string_view unit, const CgroupSample& current,
                                      std::optional<uint64_t> memory_bytes, std::optional<CpuQuota> cpu);

 private:
  SystemdUnitWriter(sd_bus* bus, std::chrono::milliseconds timeout) : bus_(bus), timeout_(timeout) {}
  sd_bus* bus_ = nullptr;
  std::chrono::milliseconds timeout_;
};

}  // namespace uvm::cgroups
