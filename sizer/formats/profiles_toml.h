// Profiles and node files in TOML: custom profile files, a node's Kata configuration.toml, and the
// handler -> Kata config mapping in containerd's config.toml. Takes text, never opens a file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sizer/profile.h"
#include "sizer/result.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace uvm::sizer::formats {

// A custom profiles file:
//   [profiles.<name>]  description, base_vcpus, base_memory_mib, mode = "static"|"dynamic",
//                      default_workload_mem_mib, default_workload_vcpus, workload_mem_min_mib,
//                      shares_fallback, max_vcpus, max_memory_mib, memory_block_mib, sandbox_cgroup_only
//   [handlers]         <handler> = "<profile name>"
//   [runtime_class_aliases]  <RuntimeClass name> = "<handler>"
// Unknown keys and wrong types are errors naming the key path and value.
struct ProfileFile {
  std::vector<Profile> profiles;
  std::map<std::string, std::string, std::less<>> handlers;
  std::map<std::string, std::string, std::less<>> runtime_class_aliases;
};
Result<ProfileFile> ParseProfileFile(std::string_view toml_text);

// The `[profiles.<name>]` table reader on its own, for the daemon config which embeds the same tables.
// `key_path` prefixes error messages (e.g. "profiles.mine").
Result<Profile> ProfileFromTable(const toml::table& table, std::string name, std::string_view key_path);

// A profile derived from a node's Kata configuration.toml (SIZING.md §4): the first [hypervisor.*] table's
// default_vcpus, default_maxvcpus, default_memory, default_maxmemory; [runtime] static_sandbox_resource_mgmt,
// sandbox_cgroup_only, and the Microsoft fork's static_sandbox_default_workload_mem,
// static_sandbox_default_workload_vcpus, sandbox_workload_mem_min. default_vcpus < 0 or > host_cpus means
// host_cpus. Defaults for missing keys are Kata's own (cited in the source).
Result<Profile> ProfileFromKataConfig(std::string_view toml_text, std::string profile_name,
                                      uint32_t host_cpus);

// One runtime entry of containerd's CRI plugin config
// (plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<handler>), version 2 and version 3 layouts.
struct ContainerdRuntime {
  std::string handler;
  std::string runtime_type;  // e.g. io.containerd.kata.v2
  std::string config_path;   // options.ConfigPath; empty when not set
  bool is_kata() const { return runtime_type.find("kata") != std::string::npos; }
};
Result<std::vector<ContainerdRuntime>> ParseContainerdRuntimes(std::string_view toml_text);

}  // namespace uvm::sizer::formats
