// Kata's per-pod annotations (io.katacontainers.config.*) that change the UVM a sandbox gets, and the two
// filters in front of them: containerd forwards only the pod annotations its runtime entry lists in
// `pod_annotations` (globs), and Kata accepts a hypervisor annotation only when the node's
// `enable_annotations` has a regular expression that matches its suffix. Pure.
//
// Upstream (kata-containers src/runtime/pkg/oci/utils.go SandboxConfig -> addAnnotations):
// 1. Every io.katacontainers.config.hypervisor.<suffix> annotation must be enabled
//    (checkAnnotationNameIsValid -> regexpContains: Go regexp.MatchString, so unanchored; a pattern that
//    does not compile matches nothing). One that is not fails the sandbox: "annotation <key> is not
//    enabled". Other io.katacontainers.* keys (runtime.*, agent.*) need no enabling.
// 2. addHypervisorCPUOverrides: default_vcpus (ParseFloat(v, 32); negative or unparsable: "Error parsing
//    annotation for <key>: Please specify positive numeric value"; above the host's CPUs: "Number of cpus
//    %f specified in annotation default_vcpus is greater than the number of CPUs %d on the system"), then
//    default_max_vcpus (ParseUint; above the host's CPUs likewise refused).
// 3. addHypervisorMemoryOverrides: default_memory (ParseUint; below MinHypervisorMemory: "Memory specified
//    in annotation <key> is less than minimum required 256, please specify a larger value"; stored as
//    uint32, so it wraps).
// 4. addRuntimeConfigOverrides: runtime.sandbox_cgroup_only (ParseBool: "Error parsing annotation for
//    <key>: Please specify boolean value 'true|false'").
// All this happens before static sizing adds the workload (SandboxConfig: `BaseCPUs =
// HypervisorConfig.NumVCPUsF` after addAnnotations), so an annotation replaces the profile's base.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/profile.h"

namespace uvm::sizer {

// The annotation keys Kata reads for sizing (virtcontainers/pkg/annotations/annotations.go).
inline constexpr std::string_view kKataHypervisorAnnotationPrefix = "io.katacontainers.config.hypervisor.";
inline constexpr std::string_view kKataDefaultVcpusAnnotation =
    "io.katacontainers.config.hypervisor.default_vcpus";
// Upstream's key is default_max_vcpus (annotations.go DefaultMaxVCPUs), not the TOML's default_maxvcpus.
inline constexpr std::string_view kKataDefaultMaxVcpusAnnotation =
    "io.katacontainers.config.hypervisor.default_max_vcpus";
inline constexpr std::string_view kKataDefaultMemoryAnnotation =
    "io.katacontainers.config.hypervisor.default_memory";
inline constexpr std::string_view kKataSandboxCgroupOnlyAnnotation =
    "io.katacontainers.config.runtime.sandbox_cgroup_only";

struct AnnotatedProfile {
  Profile profile;  // the profile with the pod's annotations applied
  // Kata refuses the sandbox (worded as Kata words it); `profile` is then the unchanged input.
  std::optional<std::string> refusal;
  std::vector<std::string> notes;  // what the annotations changed, or why one had no effect
};

using Annotations = std::map<std::string, std::string, std::less<>>;

// Applies a pod's annotations to `profile`. Only annotations matching profile.forwarded_annotations reach
// Kata; of those, hypervisor ones must match profile.enabled_annotations. `host_cpus` is what Kata's
// goruntime.NumCPU() returns on the node; 0 = unknown (the CPU checks are skipped, with a note).
AnnotatedProfile ApplyKataAnnotations(const Profile& profile, const Annotations& annotations,
                                      uint32_t host_cpus);
// The same for the daemon's CRI maps.
AnnotatedProfile ApplyKataAnnotations(const Profile& profile,
                                      const std::map<std::string, std::string>& annotations,
                                      uint32_t host_cpus);

// Checks a profile's patterns once, when it is loaded: every enabled_annotations entry must compile as an
// ECMAScript regular expression and every forwarded_annotations entry must be a well-formed glob. The
// error names the key (`enabled_key`, e.g. "hypervisor.qemu.enable_annotations", or `forwarded_key`)
// and the pattern.
Status ValidateAnnotationPatterns(const Profile& profile, std::string_view enabled_key,
                                  std::string_view forwarded_key);

// containerd's path.Match (Go): `*` any run of non-'/' bytes, `?` one non-'/' byte, `[...]` a class
// (`^` negates, `a-z` ranges), `\` escapes. nullopt: the pattern is malformed (Go's ErrBadPattern), which
// containerd treats as no match.
std::optional<bool> GlobMatch(std::string_view pattern, std::string_view name);

// Kata's regexpContains for one pattern: an unanchored search. nullopt: the pattern does not compile as
// ECMAScript.
std::optional<bool> AnnotationPatternMatches(const std::string& pattern, std::string_view suffix);

}  // namespace uvm::sizer
