// Profiles and node files in TOML: custom profile files, a node's Kata configuration.toml, and the
// handler -> Kata config mapping in containerd's config.toml. Takes text, never opens a file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/profile.h"

namespace toml {
inline namespace v3 {
class table;
class node;
}  // namespace v3
}  // namespace toml

namespace uvm::sizer::formats {

// A custom profiles file:
//   [profiles.<name>]  description, base_vcpus, base_memory_mib, mode = "static"|"dynamic",
//                      default_workload_mem_mib, default_workload_vcpus, workload_mem_min_mib,
//                      shares_fallback, max_vcpus, max_memory_mib, memory_block_mib, sandbox_cgroup_only,
//                      enabled_annotations = ["regex", ...] (Kata's enable_annotations),
//                      forwarded_annotations = ["glob", ...] (containerd's pod_annotations),
//                      min_hypervisor_memory_mib
//   [handlers]         <handler> = "<profile name>"
//   [runtime_class_aliases]  <RuntimeClass name> = "<handler>"
// Unknown keys and wrong types are errors naming the key path and value.
struct ProfileFile {
  std::vector<Profile> profiles;
  std::map<std::string, std::string, std::less<>> handlers;
  std::map<std::string, std::string, std::less<>> runtime_class_aliases;
};
Result<ProfileFile> ParseProfileFile(std::string_view toml_text);

// A TOML value as error messages show it: strings quoted and escaped (cut at 64 bytes), numbers and
// booleans as written, "a table", "an array", "a date/time".
std::string DescribeTomlValue(const toml::node& value);
// A key as a dotted TOML path shows it: bare when it can be, quoted otherwise
// (plugins."io.containerd.grpc.v1.cri").
std::string TomlKeyText(std::string_view key);

// The `[profiles.<name>]` table reader on its own, for the daemon config which embeds the same tables.
// `key_path` prefixes error messages (e.g. "profiles.mine").
Result<Profile> ProfileFromTable(const toml::table& table, std::string name, std::string_view key_path);

// A profile derived from a node's Kata configuration.toml (SIZING.md §4): the first [hypervisor.*] table's
// default_vcpus, default_maxvcpus, default_memory, default_maxmemory, enable_annotations (patterns that
// do not compile are an error naming them); [runtime] static_sandbox_resource_mgmt,
// sandbox_cgroup_only, and the Microsoft fork's static_sandbox_default_workload_mem,
// static_sandbox_default_workload_vcpus, sandbox_workload_mem_min. default_vcpus < 0 or > host_cpus means
// host_cpus. Defaults for missing keys are Kata's own (cited in the source).
// Which Kata runtime reads the file decides the defaults of keys it leaves out: upstream's (1 base vCPU;
// default_memory below 256 means 2048 MiB; CPU from shares when there is no quota) or the Microsoft fork's
// AKS ships (0 base vCPUs; default_memory as written; no shares fallback). kDetect picks the fork when
// [runtime] has any fork-only key, and is what the three-argument overload uses.
enum class KataBuild { kDetect, kUpstream, kMicrosoft };
Result<Profile> ProfileFromKataConfig(std::string_view toml_text, std::string profile_name,
                                      uint32_t host_cpus);
Result<Profile> ProfileFromKataConfig(std::string_view toml_text, std::string profile_name,
                                      uint32_t host_cpus, KataBuild build);

// One runtime entry of containerd's CRI plugin config
// (plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<handler>), version 2 and version 3 layouts
// (plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<handler>), and version 1
// (plugins.cri.containerd.runtimes.<handler>, also what a file without `version` means). Entries come in
// handler name order; a file without runtimes gives an empty list. `imports` are not followed (no file
// is opened here): callers that care read those files and call this again.
struct ContainerdRuntime {
  std::string handler;
  std::string runtime_type;  // e.g. io.containerd.kata.v2
  std::string config_path;   // options.ConfigPath; empty when not set
  // pod_annotations: globs of the pod annotations containerd passes to the sandbox (containerd
  // getPassthroughAnnotations, path.Match); containerd's default is none.
  std::vector<std::string> pod_annotations;
  bool is_kata() const { return runtime_type.find("kata") != std::string::npos; }
};
Result<std::vector<ContainerdRuntime>> ParseContainerdRuntimes(std::string_view toml_text);

}  // namespace uvm::sizer::formats
