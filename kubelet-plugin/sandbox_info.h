// Pure parsers for what containerd puts in PodSandboxStatus(verbose=true).info["info"], and the
// annotation fallback. No gRPC, no I/O: the fuzz build links this alone (kubelet-plugin/parsers.cmake).
//
// The JSON is containerd's SandboxInfo (ContainerD-specific; CRI-O's verbose info differs):
//   1.6 (pkg/cri/server/sandbox_status.go, v1.6.20): pid, processStatus, runtimeHandler, runtimeType,
//       config (the PodSandboxConfig as received, snake_case proto names: config.linux.cgroup_parent,
//       config.linux.resources{cpu_period,cpu_quota,cpu_shares,memory_limit_in_bytes},
//       config.linux.overhead), runtimeSpec (the sandbox OCI spec, annotations included).
//   2.x (internal/cri/server/podsandbox/types/sandbox_info.go): the same minus runtimeHandler, plus
//       sandboxMetadata{ID, Name, Config, RuntimeHandler, ...} (Go field names) and top-level
//       resources/overhead {"linux":{...}}, which UpdatePodSandboxResources keeps current.
// Every value is checked: a runtime that sends a string, a float, a negative size or a number beyond int64
// where an integer belongs gets that block ignored and a warning naming the key path and value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "kubelet-plugin/types.h"

namespace uvm::cri {

// The usable parts of a verbose sandbox info. Absent = the runtime did not say (or said nonsense).
struct SandboxInfo {
  std::optional<std::string> cgroup_parent;
  std::optional<LinuxResources> resources;
  std::optional<LinuxResources> overhead;
  std::optional<int64_t> pid;  // > 0 only
  std::optional<std::string> process_status;
  std::optional<std::string> runtime_type;
  std::optional<std::string> runtime_handler;  // 1.6 runtimeHandler, 2.x sandboxMetadata.RuntimeHandler
  std::string resources_source;                // the key path used, e.g. "info.config.linux.resources"
  std::string overhead_source;
  std::vector<std::string> warnings;
};

// Parses info["info"]. Precedence for resources and overhead: top-level `resources`/`overhead` (2.x,
// current after a resize) > `config.linux.*` > `sandboxMetadata.Config.linux.*`; resources (not overhead:
// containerd does not annotate it) finally fall back to runtimeSpec.annotations (see below).
// An error only when the text is not a JSON object at all; never throws.
Result<SandboxInfo> ParseSandboxInfo(std::string_view json_text);

// containerd's sandbox OCI annotations io.kubernetes.cri.sandbox-cpu-period, -cpu-quota, -cpu-shares and
// -memory (pkg/cri/annotations, written when the sandbox config has linux.resources). nullopt when none
// is present; a malformed value drops the whole set with a warning naming the key and value (`source`
// prefixes the key in the warning). Never throws.
std::optional<LinuxResources> ResourcesFromAnnotations(const std::map<std::string, std::string>& annotations,
                                                       std::string_view source,
                                                       std::vector<std::string>* warnings);

// Fills `detail` (summary already set from the status) from the verbose info map: parses info["info"]
// when present, then falls back to the status annotations for resources. Never throws.
void ApplyVerboseInfo(const std::map<std::string, std::string>& info, SandboxDetail& detail);

}  // namespace uvm::cri
