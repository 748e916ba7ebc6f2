// What one read of a cgroup yields, the same on v1 and v2, and what a raise-only write did.
// Plain data plus pure decision helpers shared by the cgroupfs and the systemd writers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/parsers.h"

namespace uvm::cgroups {

// Counters of memory.events (v2, hierarchical). On v1: `max` is memory.failcnt (times usage hit the
// limit), `oom_kill` is memory.oom_control's oom_kill (Linux 4.13+); `high` and `oom` do not exist there.
struct MemoryEvents {
  std::optional<uint64_t> high;
  std::optional<uint64_t> max;
  std::optional<uint64_t> oom;
  std::optional<uint64_t> oom_kill;
};

// One normalised sample. std::nullopt means "unlimited" for limits and "absent" (file or controller
// missing on this host) for everything else; never a magic number.
struct CgroupSample {
  int version = 2;  // the cgroup version memory was read through (1 or 2)

  std::optional<uint64_t> memory_limit_bytes;  // v2 memory.max, v1 memory.limit_in_bytes
  std::optional<uint64_t> memory_high_bytes;   // v2 memory.high (never on v1)
  std::optional<uint64_t> memsw_limit_bytes;   // v1 memory.memsw.limit_in_bytes (memory + swap)
  uint64_t memory_usage_bytes = 0;             // v2 memory.current, v1 memory.usage_in_bytes
  // memory.stat, hierarchical (v1: the total_* keys, which include child cgroups such as the sandbox's).
  std::optional<uint64_t> shmem_bytes;  // tmpfs/shm pages: what a guest's memory-backed volumes cost
  std::optional<uint64_t> file_bytes;   // v2 file, v1 total_cache
  std::optional<uint64_t> anon_bytes;   // v2 anon, v1 total_rss
  MemoryEvents events;

  std::optional<uint64_t> cpu_quota_us;    // v2 cpu.max quota, v1 cpu.cfs_quota_us; nullopt: unlimited
  std::optional<uint64_t> cpu_period_us;   // nullopt when there is no cpu controller
  std::optional<uint64_t> cpu_usage_usec;  // v2 cpu.stat usage_usec, v1 cpuacct.usage / 1000

  // From the v2 tree (on hybrid hosts too, where only the unified tree has PSI); nullopt: no PSI here.
  std::optional<Pressure> memory_pressure;
  std::optional<Pressure> cpu_pressure;
};

// A CPU limit as CFS expresses it: `quota_us` of CPU time every `period_us`.
struct CpuQuota {
  uint64_t quota_us = 0;
  uint64_t period_us = 100000;
};

// One control file (or systemd property) a writer compared, and maybe wrote.
struct LimitChange {
  std::string file;    // "<cgroup path>/memory.max", or "systemd <unit> MemoryMax"
  std::string before;  // the value as the kernel (or systemd) spells it: "max", "704643072", "175000 100000"
  std::string after;   // the value now (equal to `before` when not written)
  bool written = false;
  std::string why;  // "raised to the requested 805306368", "already at or above ...", "unlimited"
};

// What a raise-only writer did, for the caller to log (every write is logged with before, after and why).
struct WriteReport {
  std::vector<LimitChange> changes;
  // The limit before and after, normalised: bytes for memory; for CPU the quota in µs per the
  // requested period. nullopt = unlimited.
  std::optional<uint64_t> before;
  std::optional<uint64_t> after;

  bool written() const;
  // One line for a log: "memory.max 536870912 -> 805306368 (raised ...); memory.high max (unlimited)".
  std::string Summary() const;
};

// Raise-only decisions. A limit "covers" a target when it is unlimited or at least the target, and is then
// never written: we never lower what the kubelet set, and an unlimited cgroup stays unlimited.
bool MemoryLimitCovers(std::optional<uint64_t> current_bytes, uint64_t target_bytes);
bool CpuQuotaCovers(std::optional<uint64_t> current_quota_us, uint64_t current_period_us,
                    const CpuQuota& target);
// Memory limits are kept in pages by the kernel (mm/page_counter.c rounds a written value down):
// targets are rounded up to a page so that a read-back compares equal and writes stay idempotent.
uint64_t RoundUpToPage(uint64_t bytes, uint64_t page_bytes);
// The quota `q` per `p` expressed per `period_us` (rounded up).
uint64_t QuotaPerPeriod(uint64_t quota_us, uint64_t period_us, uint64_t target_period_us);
// CFS bounds (kernel/sched/core.c: min_cfs_quota_period 1 ms, max_cfs_quota_period 1 s, quota >= 1 ms).
Status ValidateCpuQuota(const CpuQuota& target);

}  // namespace uvm::cgroups
