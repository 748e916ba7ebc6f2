// Parsers for cgroupfs and procfs text. Pure: they take the text a caller read (so they are fuzzable) and
// never open anything. Every error names the source (a file name or path the caller passes), the field
// and the offending text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::cgroups {

// One cgroup filesystem mount from /proc/self/mountinfo (proc(5): field 4 is the root of the mount inside
// its hierarchy, field 5 the mount point, after " - " come the fstype and the super options).
struct CgroupMount {
  std::string mount_point;  // octal escapes (\040 ...) decoded
  std::string root;         // "/" unless a cgroup namespace or a bind mount shows a subtree
  bool v2 = false;          // fstype "cgroup2"
  // v1: the controllers bound to this hierarchy, from the super options ("cpu", "cpuacct", "memory", ...);
  // named hierarchies ("name=systemd") are left out. Always empty for v2 (see cgroup.controllers).
  std::vector<std::string> controllers;
};

// Every cgroup/cgroup2 mount in a mountinfo text, in file order. Other filesystems are skipped; a cgroup
// line with missing fields is an error naming its line number.
Result<std::vector<CgroupMount>> ParseCgroupMounts(std::string_view mountinfo);

// A decimal unsigned value on one line ("68648960\n"): memory.current, memory.usage_in_bytes,
// memory.failcnt, cpuacct.usage, cpu.cfs_period_us.
Result<uint64_t> ParseU64(std::string_view text, std::string_view source);

// A v2 limit file (memory.max, memory.high, memory.swap.max): "max" is unlimited (nullopt).
Result<std::optional<uint64_t>> ParseV2Limit(std::string_view text, std::string_view source);

// The value v1 shows for "no limit" is PAGE_COUNTER_MAX * PAGE_SIZE rounded down to a page
// (mm/page_counter.c, include/linux/page_counter.h: PAGE_COUNTER_MAX = LONG_MAX / PAGE_SIZE), so it
// depends on the page size: 0x7FFFFFFFFFFFF000 with 4 KiB pages, 0x7FFFFFFFFFFF0000 with 64 KiB pages.
// Anything at or above the 64 KiB-page value is unlimited.
inline constexpr uint64_t kV1UnlimitedBytes = 0x7FFFFFFFFFFF0000ULL;

// A v1 memory limit (memory.limit_in_bytes, memory.memsw.limit_in_bytes): kV1UnlimitedBytes or more is
// unlimited (nullopt), never a magic number.
Result<std::optional<uint64_t>> ParseV1MemoryLimit(std::string_view text, std::string_view source);

// v1 cpu.cfs_quota_us: -1 is unlimited (nullopt); other negative values are errors.
Result<std::optional<uint64_t>> ParseV1CfsQuota(std::string_view text, std::string_view source);

// v2 cpu.max: "$MAX $PERIOD" (Documentation/admin-guide/cgroup-v2.rst), "max" = no quota.
struct CpuMax {
  std::optional<uint64_t> quota_us;  // nullopt = unlimited
  uint64_t period_us = 100000;
};
Result<CpuMax> ParseCpuMax(std::string_view text, std::string_view source);

// One "key value" line of a flat-keyed file (memory.stat, memory.events, cpu.stat, v1 memory.oom_control).
// `key` points into the parsed text: keep the text alive while using it.
struct KeyedValue {
  std::string_view key;
  uint64_t value = 0;
};
Result<std::vector<KeyedValue>> ParseKeyedValues(std::string_view text, std::string_view source);
// The value of `key`, nullopt when the file has no such line.
std::optional<uint64_t> FindKey(const std::vector<KeyedValue>& values, std::string_view key);

// PSI (Documentation/accounting/psi.rst): "some avg10=0.12 avg60=0.05 avg300=0.01 total=12345" and the
// same for "full". Averages are percentages of wall time; total is stalled microseconds.
struct PressureLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_us = 0;
};
struct Pressure {
  PressureLine some;
  std::optional<PressureLine> full;  // absent in cpu.pressure before Linux 5.13
};
Result<Pressure> ParsePressure(std::string_view text, std::string_view source);

// `text` quoted for an error message: control bytes escaped, cut to `max_bytes` with "..." after.
std::string QuoteForError(std::string_view text, size_t max_bytes = 80);

}  // namespace uvm::cgroups
