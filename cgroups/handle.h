// One cgroup (a pod's, a sandbox's, /kata_overhead/<id>) opened in every hierarchy of the host: read a
// normalised sample, raise limits, register PSI triggers. Directory fds are opened once, control files
// on first use and kept open, so a sample is a handful of preads and a write is one pwrite.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cgroups/fs.h"
#include "cgroups/layout.h"
#include "cgroups/paths.h"
#include "cgroups/psi.h"
#include "cgroups/sample.h"

namespace uvm::cgroups {

// Not thread-safe (it reuses one read buffer and caches fds lazily): one handle per thread. Movable.
// Keeps its directory fds (up to 4) and one fd per control file it has used open: 15 after a v1
// sample with PSI, 11 on v2, a few more after writes. A daemon watching 250 pods needs RLIMIT_NOFILE
// above 4096 (raise the soft limit to the hard one at start). When the cgroup is removed, reads and writes
// fail with code ErrorCode::kGone: drop the handle; a cgroup recreated at the same path needs a new one.
class CgroupHandle {
 public:
  enum File : uint8_t;  // the control files this class knows (handle.cc); opaque to callers

  // Opens `relative_path` (validated with ValidateRelativeCgroupPath first; nothing is opened when it
  // fails) beneath each hierarchy root of `layout`, with OpenDirBeneath: no symlink, nothing outside the
  // root. The memory hierarchy's directory must exist; the cpu, cpuacct and (on hybrid hosts) unified
  // ones may be missing (their fields then read as absent), but any other failure there is an error.
  static Result<CgroupHandle> Open(const CgroupLayout& layout, std::string_view relative_path,
                                   BeneathMethod method = BeneathMethod::kAuto);

  // "/kubepods/burstable/pod<uid>": the path relative to the hierarchy roots, with a leading "/".
  const std::string& path() const { return path_; }
  int memory_version() const { return v1_ ? 1 : 2; }
  bool has_cpu() const { return cpu_dir_.valid(); }
  bool has_unified() const { return unified_dir_.valid(); }

  // Reads every field of CgroupSample. Required files (the limit and usage) failing is an error naming
  // the file; optional ones (memsw without swap accounting, PSI without CONFIG_PSI, a missing cpu
  // hierarchy) read as nullopt. Code kGone: the cgroup was removed; kNotFound: a required file is missing
  // (or the cgroup went before the file was first opened); kInvalidInput: a file's text did not parse.
  Result<CgroupSample> ReadSample();

  // Raise-only, idempotent memory limit: reads the limit, writes `target_bytes` (rounded up to a page)
  // only when the current limit is finite and lower. v2: memory.max, then memory.high when it is set,
  // keeping the kubelet's gap between high and max (capped at the new max). v1: memory.memsw.limit_in_bytes
  // first when it is finite and lower (the kernel refuses a memory limit above memsw), then
  // memory.limit_in_bytes. The report says what was compared, written and why.
  Result<WriteReport> RaiseMemoryLimit(uint64_t target_bytes);

  // Raise-only, idempotent CFS quota: writes `target` only when the current quota is finite and gives
  // less CPU time per second. v2: cpu.max "<quota> <period>". v1: cpu.cfs_quota_us and cpu.cfs_period_us,
  // ordered so that the rate in between is never below the old one.
  Result<WriteReport> RaiseCpuQuota(const CpuQuota& target);

  // Registers a PSI trigger on this cgroup's <resource>.pressure in the v2 tree (hybrid: the unified tree).
  Result<PsiTrigger> AddPressureTrigger(PsiResource resource, const PsiTriggerSpec& spec) const;

  // The directory fds, for callers that need a file this class does not read (-1 when absent).
  int memory_dirfd() const { return memory_dir_.get(); }
  int cpu_dirfd() const { return cpu_dir_.get(); }
  int unified_dirfd() const { return unified_dir_.get(); }

  // Sets the memory limit (v2 memory.max, v1 memory.limit_in_bytes) to `bytes` rounded up to a page,
  // through its kept write fd, whatever it was: no raise-only check. Returns the value written. For a
  // limit this program owns (Kata's /kata_overhead/<id>, see pod_cgroup.h) and benchmarks; a kubelet-owned
  // limit goes through the Raise* functions.
  Result<uint64_t> SetMemoryLimit(uint64_t bytes);

 private:
  enum class Slot : uint8_t { kUnopened, kOpen, kAbsent };
  struct KeptFd {
    UniqueFd fd;
    Slot slot = Slot::kUnopened;
    bool truncate = false;  // a regular file in a fake tree: cut what a longer old value left behind
  };
  static constexpr size_t kFileCount = 20;

  CgroupHandle() = default;
  int DirFor(File f) const;
  // Reads file `f`; nullopt when the file is absent (ENOENT at open, EOPNOTSUPP at read).
  Result<std::optional<std::string_view>> ReadOptional(File f);
  Result<std::string_view> ReadRequired(File f);
  Status Write(File f, std::string_view value);
  std::string Display(File f) const;

  std::string path_;
  bool v1_ = false;
  UniqueFd memory_dir_, cpu_dir_, cpuacct_dir_, unified_dir_;
  std::array<KeptFd, kFileCount> read_fds_;
  std::array<KeptFd, kFileCount> write_fds_;
  std::array<std::string, 4> roots_;  // memory, cpu, cpuacct, unified hierarchy roots (for messages)
  std::string buffer_;
  uint64_t page_bytes_ = 4096;
};

// Validates `cgroup_parent` and `sandbox_id` with ResolvePodCgroupPaths (nothing is opened when that
// fails: the error names the rule) and opens the pod cgroup. paths (when non-null) receives the pod's
// sandbox and kata_overhead paths, to open with CgroupHandle::Open.
Result<CgroupHandle> ResolvePodCgroup(std::string_view cgroup_parent, std::string_view sandbox_id,
                                      const CgroupLayout& layout, const PathRules& rules = {},
                                      PodCgroupPaths* paths = nullptr);

}  // namespace uvm::cgroups
