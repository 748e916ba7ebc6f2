// Where the host's cgroup hierarchies are: v1, v2, or hybrid (v1 controllers plus a cgroup2 tree that, on
// these hosts, carries no controllers but still has the PSI files).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::cgroups {

inline constexpr std::string_view kDefaultCgroupRoot = "/sys/fs/cgroup";

enum class LayoutKind { kV1, kV2, kHybrid };
std::string_view LayoutName(LayoutKind kind);  // "v1", "v2", "hybrid"

// Directories are absolute paths of hierarchy roots; empty = that hierarchy is not mounted. On a v1 host
// where cpu and cpuacct are co-mounted ("cpu,cpuacct") both name the same directory.
struct CgroupLayout {
  LayoutKind kind = LayoutKind::kV2;
  std::string unified;     // the cgroup2 mount: everything on v2, PSI only on hybrid
  std::string memory_v1;   // v1 memory controller
  std::string cpu_v1;      // v1 cpu controller (CFS quota)
  std::string cpuacct_v1;  // v1 cpuacct controller (usage)

  // The cgroup version memory is read and written through (what `inspect` reports as cgroup_version).
  int memory_version() const { return memory_v1.empty() ? 2 : 1; }
};

// The layout from a /proc/self/mountinfo text, keeping only mounts at or beneath `root` (the injectable
// cgroup root; kDefaultCgroupRoot on a real host). v1 hierarchies without memory or cpu are ignored.
// Errors: no usable cgroup mount beneath `root`, or a malformed cgroup line.
Result<CgroupLayout> LayoutFromMountInfo(std::string_view mountinfo, std::string_view root);

// The layout of a tree by looking at it, for a root that is not a mount (a fixture, a copy): `root` with
// a cgroup.controllers file is v2; else its subdirectories named after controllers ("memory",
// "cpu,cpuacct", ...) are v1 hierarchies and a "unified" subdirectory with cgroup.procs makes it hybrid.
// Symbolic links are not followed.
Result<CgroupLayout> ProbeLayout(const std::string& root);

// What the daemon and the CLI call: the mounts in /proc/self/mountinfo beneath `root`, or, when there
// are none (a fake tree), ProbeLayout(root).
Result<CgroupLayout> DetectLayout(const std::string& root = std::string(kDefaultCgroupRoot));

}  // namespace uvm::cgroups
