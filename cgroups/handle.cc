#include "cgroups/handle.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {

// Control files, one constant per name (oomd's util/Fs.h style), with the hierarchy each lives in.
enum CgroupHandle::File : uint8_t {
  kMemMax,
  kMemHigh,
  kMemCurrent,
  kMemEvents,
  kMemStat,
  kCpuMax,
  kCpuStat,
  kMemLimitV1,
  kMemswLimitV1,
  kMemUsageV1,
  kMemStatV1,
  kMemFailcntV1,
  kMemOomControlV1,
  kCfsQuotaV1,
  kCfsPeriodV1,
  kCpuacctUsageV1,
  kMemPressure,
  kCpuPressure,
  kFileEnd,
};

namespace {

enum class Hierarchy { kMemory, kCpu, kCpuacct, kUnified };

struct FileInfo {
  std::string_view name;
  Hierarchy hierarchy;
};

constexpr FileInfo kFiles[] = {
    {"memory.max", Hierarchy::kMemory},
    {"memory.high", Hierarchy::kMemory},
    {"memory.current", Hierarchy::kMemory},
    {"memory.events", Hierarchy::kMemory},
    {"memory.stat", Hierarchy::kMemory},
    {"cpu.max", Hierarchy::kCpu},
    {"cpu.stat", Hierarchy::kCpu},
    {"memory.limit_in_bytes", Hierarchy::kMemory},
    {"memory.memsw.limit_in_bytes", Hierarchy::kMemory},
    {"memory.usage_in_bytes", Hierarchy::kMemory},
    {"memory.stat", Hierarchy::kMemory},
    {"memory.failcnt", Hierarchy::kMemory},
    {"memory.oom_control", Hierarchy::kMemory},
    {"cpu.cfs_quota_us", Hierarchy::kCpu},
    {"cpu.cfs_period_us", Hierarchy::kCpu},
    {"cpuacct.usage", Hierarchy::kCpuacct},
    {"memory.pressure", Hierarchy::kUnified},
    {"cpu.pressure", Hierarchy::kUnified},
};
static_assert(std::size(kFiles) == CgroupHandle::File::kFileEnd);

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

std::string LimitText(std::optional<uint64_t> v, bool v1) {
  if (v) return std::to_string(*v);
  return v1 ? "unlimited" : "max";
}

// Opens `relative` beneath hierarchy root `root`. `optional`: a missing directory is not an error.
Result<UniqueFd> OpenIn(const std::string& root, std::string_view relative, bool optional,
                        BeneathMethod method) {
  auto root_fd = OpenDir(root);
  if (!root_fd) return root_fd.error();
  std::string display = fmt::format("{}/{}", root, relative);
  auto fd = OpenDirBeneath(root_fd->get(), relative, display, method);
  if (!fd && optional && fd.error().sys_errno == ENOENT) return UniqueFd();
  return fd;
}

UniqueFd Dup(const UniqueFd& fd) {
  return UniqueFd(fd.valid() ? fcntl(fd.get(), F_DUPFD_CLOEXEC, 0) : -1);
}

}  // namespace

Result<CgroupHandle> CgroupHandle::Open(const CgroupLayout& layout, std::string_view relative_path,
                                        BeneathMethod method) {
  if (auto st = ValidateRelativeCgroupPath(relative_path); !st) return st.error();
  CgroupHandle h;
  h.path_ = fmt::format("/{}", relative_path);
  h.v1_ = !layout.memory_v1.empty();
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) h.page_bytes_ = static_cast<uint64_t>(page);
  h.buffer_.resize(8192);
  if (h.v1_) {
    auto mem = OpenIn(layout.memory_v1, relative_path, false, method);
    if (!mem) return mem.error();
    h.memory_dir_ = std::move(*mem);
    h.roots_[0] = layout.memory_v1;
    if (!layout.cpu_v1.empty()) {
      auto cpu = OpenIn(layout.cpu_v1, relative_path, true, method);
      if (!cpu) return cpu.error();
      h.cpu_dir_ = std::move(*cpu);
      h.roots_[1] = layout.cpu_v1;
    }
    if (!layout.cpuacct_v1.empty()) {
      auto acct = OpenIn(layout.cpuacct_v1, relative_path, true, method);
      if (!acct) return acct.error();
      h.cpuacct_dir_ = std::move(*acct);
      h.roots_[2] = layout.cpuacct_v1;
    }
    if (!layout.unified.empty()) {
      // Hybrid: the unified tree only has the path when something (systemd, runc) created it there.
      auto uni = OpenIn(layout.unified, relative_path, true, method);
      if (!uni) return uni.error();
      h.unified_dir_ = std::move(*uni);
      h.roots_[3] = layout.unified;
    }
  } else {
    if (layout.unified.empty()) {
      return Error{.message = "cgroup layout: neither a v1 memory hierarchy nor a cgroup2 mount",
                   .code = ErrorCode::kUnsupported};
    }
    auto uni = OpenIn(layout.unified, relative_path, false, method);
    if (!uni) return uni.error();
    h.unified_dir_ = std::move(*uni);
    h.memory_dir_ = Dup(h.unified_dir_);
    h.cpu_dir_ = Dup(h.unified_dir_);
    h.roots_ = {layout.unified, layout.unified, layout.unified, layout.unified};
  }
  return h;
}

int CgroupHandle::DirFor(File f) const {
  switch (kFiles[f].hierarchy) {
    case Hierarchy::kMemory:
      return memory_dir_.get();
    case Hierarchy::kCpu:
      return cpu_dir_.get();
    case Hierarchy::kCpuacct:
      return cpuacct_dir_.get();
    case Hierarchy::kUnified:
      return unified_dir_.get();
  }
  return -1;
}

std::string CgroupHandle::Display(File f) const {
  return fmt::format("{}{}/{}", roots_[static_cast<size_t>(kFiles[f].hierarchy)], path_, kFiles[f].name);
}

Result<std::optional<std::string_view>> CgroupHandle::ReadOptional(File f) {
  KeptFd& kept = read_fds_[f];
  if (kept.slot == Slot::kAbsent) return std::optional<std::string_view>();
  if (kept.slot == Slot::kUnopened) {
    int dir = DirFor(f);
    if (dir < 0) {
      kept.slot = Slot::kAbsent;
      return std::optional<std::string_view>();
    }
    int fd = openat(dir, std::string(kFiles[f].name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) {
        kept.slot = Slot::kAbsent;
        return std::optional<std::string_view>();
      }
      return SysError(err, fmt::format("{}: open: {}", Display(f), std::strerror(err)));
    }
    kept.fd.reset(fd);
    kept.slot = Slot::kOpen;
  }
  auto text = PreadAll(kept.fd.get(), buffer_, Display(f));
  if (!text) {
    // PSI compiled in but disabled at boot (psi=0) fails reads with EOPNOTSUPP: treat as absent.
    if (text.error().sys_errno == EOPNOTSUPP) {
      kept.fd.reset();
      kept.slot = Slot::kAbsent;
      return std::optional<std::string_view>();
    }
    return text.error();
  }
  return std::optional<std::string_view>(*text);
}

Result<std::string_view> CgroupHandle::ReadRequired(File f) {
  auto text = ReadOptional(f);
  if (!text) return text.error();
  if (!*text) {
    return Error{
        .message = fmt::format("{}: missing (the controller is not enabled for this cgroup?)", Display(f)),
        .code = ErrorCode::kNotFound,
        .sys_errno = ENOENT};
  }
  return **text;
}

Status CgroupHandle::Write(File f, std::string_view value) {
  KeptFd& kept = write_fds_[f];
  if (kept.slot != Slot::kOpen) {
    int dir = DirFor(f);
    if (dir < 0) {
      return Error{.message = fmt::format("{}: no such hierarchy for this cgroup", Display(f)),
                   .code = ErrorCode::kUnsupported};
    }
    int fd = openat(dir, std::string(kFiles[f].name).c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      int err = errno;
      return SysError(err, fmt::format("{}: open for writing: {}", Display(f), std::strerror(err)));
    }
    kept.fd.reset(fd);
    kept.slot = Slot::kOpen;
    // Checked once per fd so the hot path stays one pwrite: cgroupfs takes a value per write, a test
    // fixture's regular file would keep the tail of a longer old value.
    struct statfs fs;
    kept.truncate =
        fstatfs(fd, &fs) == 0 && fs.f_type != CGROUP_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC;
  }
  if (auto st = PwriteAll(kept.fd.get(), value, Display(f)); !st) return st;
  if (kept.truncate && ftruncate(kept.fd.get(), static_cast<off_t>(value.size())) != 0) {
    int err = errno;
    return SysError(err, fmt::format("{}: truncate: {}", Display(f), std::strerror(err)));
  }
  return {};
}

Result<uint64_t> CgroupHandle::SetMemoryLimit(uint64_t bytes) {
  uint64_t rounded = RoundUpToPage(bytes, page_bytes_);
  if (auto st = Write(v1_ ? kMemLimitV1 : kMemMax, std::to_string(rounded)); !st) return st.error();
  return rounded;
}

Result<CgroupSample> CgroupHandle::ReadSample() {
  CgroupSample s;
  s.version = memory_version();
  // Parses an optional file with `parse`; absent stays nullopt.
  auto read_opt = [&](File f, auto parse) -> Status {
    auto text = ReadOptional(f);
    if (!text) return text.error();
    if (*text) {
      auto st = parse(**text, Display(f));
      if (!st) return st.error();
    }
    return {};
  };
  auto stat_keys = [](std::initializer_list<std::pair<std::string_view, std::optional<uint64_t>*>> keys) {
    return [keys](std::string_view text, const std::string& source) -> Status {
      auto kv = ParseKeyedValues(text, source);
      if (!kv) return kv.error();
      for (auto [key, out] : keys) {
        if (!*out) *out = FindKey(*kv, key);
      }
      return {};
    };
  };
  if (!v1_) {
    auto max = ReadRequired(kMemMax);
    if (!max) return max.error();
    auto limit = ParseV2Limit(*max, Display(kMemMax));
    if (!limit) return limit.error();
    s.memory_limit_bytes = *limit;
    if (auto st = read_opt(kMemHigh,
                           [&](std::string_view t, const std::string& src) -> Status {
                             auto v = ParseV2Limit(t, src);
                             if (!v) return v.error();
                             s.memory_high_bytes = *v;
                             return {};
                           });
        !st) {
      return st.error();
    }
    auto current = ReadRequired(kMemCurrent);
    if (!current) return current.error();
    auto usage = ParseU64(*current, Display(kMemCurrent));
    if (!usage) return usage.error();
    s.memory_usage_bytes = *usage;
    if (auto st = read_opt(
            kMemStat,
            stat_keys({{"shmem", &s.shmem_bytes}, {"file", &s.file_bytes}, {"anon", &s.anon_bytes}}));
        !st) {
      return st.error();
    }
    if (auto st = read_opt(kMemEvents, stat_keys({{"high", &s.events.high},
                                                  {"max", &s.events.max},
                                                  {"oom", &s.events.oom},
                                                  {"oom_kill", &s.events.oom_kill}}));
        !st) {
      return st.error();
    }
    if (auto st = read_opt(kCpuMax,
                           [&](std::string_view t, const std::string& src) -> Status {
                             auto v = ParseCpuMax(t, src);
                             if (!v) return v.error();
                             s.cpu_quota_us = v->quota_us;
                             s.cpu_period_us = v->period_us;
                             return {};
                           });
        !st) {
      return st.error();
    }
    if (auto st = read_opt(kCpuStat, stat_keys({{"usage_usec", &s.cpu_usage_usec}})); !st) return st.error();
  } else {
    auto limit_text = ReadRequired(kMemLimitV1);
    if (!limit_text) return limit_text.error();
    auto limit = ParseV1MemoryLimit(*limit_text, Display(kMemLimitV1));
    if (!limit) return limit.error();
    s.memory_limit_bytes = *limit;
    if (auto st = read_opt(kMemswLimitV1,
                           [&](std::string_view t, const std::string& src) -> Status {
                             auto v = ParseV1MemoryLimit(t, src);
                             if (!v) return v.error();
                             s.memsw_limit_bytes = *v;
                             return {};
                           });
        !st) {
      return st.error();
    }
    auto usage_text = ReadRequired(kMemUsageV1);
    if (!usage_text) return usage_text.error();
    auto usage = ParseU64(*usage_text, Display(kMemUsageV1));
    if (!usage) return usage.error();
    s.memory_usage_bytes = *usage;
    // total_* include descendants (the sandbox's cgroup below the pod's); the plain keys are a fallback
    // for memory.use_hierarchy=0 trees of old kernels, which have no total_*.
    if (auto st = read_opt(kMemStatV1, stat_keys({{"total_shmem", &s.shmem_bytes},
                                                  {"total_cache", &s.file_bytes},
                                                  {"total_rss", &s.anon_bytes},
                                                  {"shmem", &s.shmem_bytes},
                                                  {"cache", &s.file_bytes},
                                                  {"rss", &s.anon_bytes}}));
        !st) {
      return st.error();
    }
    if (auto st = read_opt(kMemFailcntV1,
                           [&](std::string_view t, const std::string& src) -> Status {
                             auto v = ParseU64(t, src);
                             if (!v) return v.error();
                             s.events.max = *v;
                             return {};
                           });
        !st) {
      return st.error();
    }
    if (auto st = read_opt(kMemOomControlV1, stat_keys({{"oom_kill", &s.events.oom_kill}})); !st)
      return st.error();
    if (auto st = read_opt(kCfsPeriodV1,
                           [&](std::string_view t, const std::string& src) -> Status {
                             auto v = ParseU64(t, src);
                             if (!v) return v.error();
                             s.cpu_period_us = *v;
                             return {};
                           });
        !st) {
      return st.error();
    }
    if (s.cpu_period_us) {
      if (auto st = read_opt(kCfsQuotaV1,
                             [&](std::string_view t, const std::string& src) -> Status {
                               auto v = ParseV1CfsQuota(t, src);
                               if (!v) return v.error();
                               s.cpu_quota_us = *v;
                               return {};
                             });
          !st) {
        return st.error();
      }
    }
    if (auto st = read_opt(kCpuacctUsageV1,
                           [&](std::string_view t, const std::string& src) -> Status {
                             auto v = ParseU64(t, src);  // nanoseconds
                             if (!v) return v.error();
                             s.cpu_usage_usec = *v / 1000;
                             return {};
                           });
        !st) {
      return st.error();
    }
  }
  auto pressure = [&](std::optional<Pressure>& out) {
    return [&out](std::string_view t, const std::string& src) -> Status {
      auto p = ParsePressure(t, src);
      if (!p) return p.error();
      out = *p;
      return {};
    };
  };
  if (auto st = read_opt(kMemPressure, pressure(s.memory_pressure)); !st) return st.error();
  if (auto st = read_opt(kCpuPressure, pressure(s.cpu_pressure)); !st) return st.error();
  return s;
}

Result<WriteReport> CgroupHandle::RaiseMemoryLimit(uint64_t target_bytes) {
  target_bytes = RoundUpToPage(target_bytes, page_bytes_);
  const File limit_file = v1_ ? kMemLimitV1 : kMemMax;
  auto parse_limit = [this](std::string_view text, const std::string& src) {
    return v1_ ? ParseV1MemoryLimit(text, src) : ParseV2Limit(text, src);
  };
  auto limit_text = ReadRequired(limit_file);
  if (!limit_text) return limit_text.error();
  std::string before_text(Trim(*limit_text));
  auto before = parse_limit(before_text, Display(limit_file));
  if (!before) return before.error();

  WriteReport report;
  report.before = *before;
  report.after = *before;
  if (MemoryLimitCovers(*before, target_bytes)) {
    report.changes.push_back(
        {Display(limit_file), LimitText(*before, v1_), LimitText(*before, v1_), false,
         *before ? fmt::format("already at or above the requested {} (never lowered)", target_bytes)
                 : "unlimited (left unlimited)"});
    return report;
  }
  std::string target_text = std::to_string(target_bytes);
  if (v1_) {
    // mm/memcontrol-v1.c (mem_cgroup_resize_max): a memory limit above memsw is EINVAL, so memsw goes first.
    auto memsw_text = ReadOptional(kMemswLimitV1);
    if (!memsw_text) return memsw_text.error();
    if (*memsw_text) {
      std::string memsw_before(Trim(**memsw_text));
      auto memsw = ParseV1MemoryLimit(memsw_before, Display(kMemswLimitV1));
      if (!memsw) return memsw.error();
      if (*memsw && **memsw < target_bytes) {
        if (auto st = Write(kMemswLimitV1, target_text); !st) return st.error();
        report.changes.push_back({Display(kMemswLimitV1), memsw_before, target_text, true,
                                  "raised first: the kernel keeps memsw >= the memory limit"});
      }
    }
  }
  if (auto st = Write(limit_file, target_text); !st) {
    if (report.written()) {
      return WithMessage(st.error(), fmt::format("{} (after {})", st.error().message, report.Summary()));
    }
    return st.error();
  }
  auto after_text = ReadRequired(limit_file);
  if (!after_text) return after_text.error();
  auto after = parse_limit(*after_text, Display(limit_file));
  if (!after) return after.error();
  report.after = *after;
  report.changes.push_back({Display(limit_file), before_text, LimitText(*after, v1_), true,
                            fmt::format("raised to the requested {}", target_bytes)});
  if (!v1_) {
    // memory.high throttles below memory.max; keep the kubelet's gap (MemoryQoS sets high < max).
    auto high_text = ReadOptional(kMemHigh);
    if (!high_text) return high_text.error();
    if (*high_text) {
      std::string high_before(Trim(**high_text));
      auto high = ParseV2Limit(high_before, Display(kMemHigh));
      if (!high) return high.error();
      if (*high && **before > **high) {
        uint64_t new_high = std::min<uint64_t>(target_bytes, **high + (target_bytes - **before));
        new_high = RoundUpToPage(new_high, page_bytes_);
        if (auto st = Write(kMemHigh, std::to_string(new_high)); !st) {
          return WithMessage(st.error(), fmt::format("{} (after {})", st.error().message, report.Summary()));
        }
        report.changes.push_back({Display(kMemHigh), high_before, std::to_string(new_high), true,
                                  "raised by as much as memory.max, keeping the kubelet's gap"});
      } else if (*high) {
        report.changes.push_back(
            {Display(kMemHigh), high_before, high_before, false, "not below the old memory.max: left alone"});
      }
    }
  }
  return report;
}

Result<WriteReport> CgroupHandle::RaiseCpuQuota(const CpuQuota& target) {
  if (auto st = ValidateCpuQuota(target); !st) return st.error();
  if (!cpu_dir_.valid()) {
    return Error{.message = fmt::format("{}: no cpu controller directory for this cgroup", path_),
                 .code = ErrorCode::kUnsupported};
  }
  WriteReport report;
  auto per_target = [&](std::optional<uint64_t> q, uint64_t p) -> std::optional<uint64_t> {
    if (!q) return std::nullopt;
    return QuotaPerPeriod(*q, p, target.period_us);
  };
  if (!v1_) {
    auto text = ReadRequired(kCpuMax);
    if (!text) return text.error();
    std::string before_text(Trim(*text));
    auto cur = ParseCpuMax(before_text, Display(kCpuMax));
    if (!cur) return cur.error();
    report.before = report.after = per_target(cur->quota_us, cur->period_us);
    if (CpuQuotaCovers(cur->quota_us, cur->period_us, target)) {
      report.changes.push_back({Display(kCpuMax), before_text, before_text, false,
                                cur->quota_us
                                    ? "already gives at least the requested CPU time (never lowered)"
                                    : "unlimited (left unlimited)"});
      return report;
    }
    std::string value = fmt::format("{} {}", target.quota_us, target.period_us);
    if (auto st = Write(kCpuMax, value); !st) return st.error();
    auto after_text = ReadRequired(kCpuMax);
    if (!after_text) return after_text.error();
    std::string after_str(Trim(*after_text));
    auto after = ParseCpuMax(after_str, Display(kCpuMax));
    if (!after) return after.error();
    report.after = per_target(after->quota_us, after->period_us);
    report.changes.push_back(
        {Display(kCpuMax), before_text, after_str, true,
         fmt::format("raised to the requested {} per {} µs", target.quota_us, target.period_us)});
    return report;
  }
  auto quota_text = ReadRequired(kCfsQuotaV1);
  if (!quota_text) return quota_text.error();
  std::string quota_before(Trim(*quota_text));
  auto quota = ParseV1CfsQuota(quota_before, Display(kCfsQuotaV1));
  if (!quota) return quota.error();
  auto period_text = ReadRequired(kCfsPeriodV1);
  if (!period_text) return period_text.error();
  std::string period_before(Trim(*period_text));
  auto period = ParseU64(period_before, Display(kCfsPeriodV1));
  if (!period) return period.error();
  report.before = report.after = per_target(*quota, *period);
  if (CpuQuotaCovers(*quota, *period, target)) {
    report.changes.push_back({Display(kCfsQuotaV1), quota_before, quota_before, false,
                              *quota ? fmt::format("already gives at least the requested CPU time per {} µs "
                                                   "period (never lowered)",
                                                   *period)
                                     : "unlimited (left unlimited)"});
    return report;
  }
  std::string quota_value = std::to_string(target.quota_us);
  std::string period_value = std::to_string(target.period_us);
  auto write_quota = [&]() -> Status {
    if (auto st = Write(kCfsQuotaV1, quota_value); !st) return st;
    report.changes.push_back(
        {Display(kCfsQuotaV1), quota_before, quota_value, true,
         fmt::format("raised to the requested {} per {} µs", target.quota_us, target.period_us)});
    return {};
  };
  auto write_period = [&]() -> Status {
    if (target.period_us == *period) return {};
    if (auto st = Write(kCfsPeriodV1, period_value); !st) return st;
    report.changes.push_back(
        {Display(kCfsPeriodV1), period_before, period_value, true, "the requested period"});
    return {};
  };
  // Whichever goes first, the rate in between (new quota per old period, or old quota per new period)
  // is above the old rate, so CPU time is never cut, not even for a moment.
  Status st = target.period_us > *period ? write_quota() : write_period();
  if (st) st = target.period_us > *period ? write_period() : write_quota();
  if (!st) {
    if (report.written()) {
      return WithMessage(st.error(), fmt::format("{} (after {})", st.error().message, report.Summary()));
    }
    return st.error();
  }
  report.after = QuotaPerPeriod(target.quota_us, target.period_us, target.period_us);
  return report;
}

Result<PsiTrigger> CgroupHandle::AddPressureTrigger(PsiResource resource, const PsiTriggerSpec& spec) const {
  if (!unified_dir_.valid()) {
    return Error{.message = fmt::format("{}: no cgroup2 directory for this cgroup, so no PSI", path_),
                 .code = ErrorCode::kUnsupported};
  }
  return PsiTrigger::Register(unified_dir_.get(), resource, spec, fmt::format("{}{}", roots_[3], path_));
}

Result<CgroupHandle> ResolvePodCgroup(std::string_view cgroup_parent, std::string_view sandbox_id,
                                      const CgroupLayout& layout, const PathRules& rules,
                                      PodCgroupPaths* paths) {
  auto resolved = ResolvePodCgroupPaths(cgroup_parent, sandbox_id, rules);
  if (!resolved) return resolved.error();
  auto handle = CgroupHandle::Open(layout, resolved->pod);
  if (!handle) return handle.error();
  if (paths) *paths = std::move(*resolved);
  return handle;
}

}  // namespace uvm::cgroups
