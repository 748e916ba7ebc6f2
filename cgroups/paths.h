// Which cgroups belong to a pod, from the CRI `cgroup_parent` the kubelet sent. Pure string work, done
// BEFORE anything is opened: a cgroup_parent comes from pod metadata an attacker may shape, so it must
// name exactly one pod cgroup beneath the kubepods subtree, or it is refused with the rule it broke.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::cgroups {

enum class CgroupDriver { kCgroupfs, kSystemd };

// Paths are relative to a hierarchy's root (no leading "/"), the same in every v1 hierarchy and in v2.
struct PodCgroupPaths {
  CgroupDriver driver = CgroupDriver::kCgroupfs;
  // The pod cgroup the kubelet limits: "kubepods/burstable/pod<uid>" or
  // "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice".
  std::string pod;
  // The sandbox's own cgroup (empty without a sandbox id): "<pod>/<id>" with cgroupfs, containerd's
  // "<pod>/cri-containerd-<id>.scope" with systemd.
  std::string sandbox;
  // Where Kata puts the VMM with sandbox_cgroup_only=false: "kata_overhead/<id>" (empty without an id).
  std::string kata_overhead;
  // systemd driver: the pod slice's unit name ("kubepods-burstable-pod<uid>.slice"), else empty.
  std::string systemd_unit;
  // The pod UID as the path spells it (systemd escapes "-" as "_").
  std::string pod_uid;
};

struct PathRules {
  // The kubelet's --cgroup-root (cgroupfs driver): pod cgroups live at <root>/kubepods/... Must be "/" or
  // an absolute path obeying the same component rules.
  std::string kubelet_cgroup_root = "/";
  // When set, the cgroup_parent must name this pod (CRI PodSandboxMetadata.uid): another pod's path is
  // refused. Compared with "-" and "_" treated alike, as systemd slice names escape "-".
  std::string pod_uid;
};

// Limits on what we accept; far above anything the kubelet produces.
inline constexpr size_t kMaxCgroupParentBytes = 512;
inline constexpr size_t kMaxComponentBytes = 255;  // NAME_MAX
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxRelativePathBytes = 4096;  // PATH_MAX

// Validates `cgroup_parent` (and `sandbox_id`, which may be empty) and derives the pod's cgroup paths.
// Accepted forms:
//   cgroupfs: "<kubelet root>/kubepods[/burstable|/besteffort]/pod<uid>"
//   systemd:  "kubepods[-burstable|-besteffort]-pod<uid>.slice"
// Refused, each with a message "cgroup_parent "...": <rule>" naming the rule: empty, too long, NUL or
// other bytes outside [A-Za-z0-9._-] and "/" separators, "." or ".." components (traversal), "//", a
// relative path, a path outside the kubepods subtree, anything but exactly one pod cgroup, a pod UID
// that is not `rules.pod_uid`, a sandbox id that is not one plain name.
Result<PodCgroupPaths> ResolvePodCgroupPaths(std::string_view cgroup_parent, std::string_view sandbox_id,
                                             const PathRules& rules = {});

// Kata's cgroup for the VMM of sandbox `sandbox_id` with sandbox_cgroup_only=false: "kata_overhead/<id>"
// (kata-containers src/runtime/virtcontainers/sandbox.go, resCtrlKataOverheadID = "/kata_overhead/"). The
// id must be one plain name, by the same rule ResolvePodCgroupPaths holds it to; refused (kInvalidInput)
// otherwise, or when empty.
Result<std::string> KataOverheadPath(std::string_view sandbox_id);

// systemd's slice expansion (systemd.slice(5): "-" separates parents): "a-b-c.slice" ->
// "a.slice/a-b.slice/a-b-c.slice"; "-.slice" (the root slice) -> "". Refuses empty parts ("a--b",
// "-a", "a-"), non-".slice" names, bytes outside [A-Za-z0-9:_.\-] and expansions beyond
// kMaxRelativePathBytes.
Result<std::string> ExpandSystemdSlice(std::string_view slice);

// Validates a relative cgroup path (as ResolvePodCgroupPaths returns them): non-empty components of
// [A-Za-z0-9:._-], no "." or "..", no leading "/", at most kMaxRelativePathBytes.
Status ValidateRelativeCgroupPath(std::string_view path);

}  // namespace uvm::cgroups
