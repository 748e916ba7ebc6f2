// Sizing profiles: the numbers a Kata runtime uses to turn a sandbox's resources into a UVM
// (SIZING.md §4). Every rule is a named profile because AKS has changed the numbers over time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::sizer {

enum class SizingMode {
  kStatic,   // static_sandbox_resource_mgmt=true: sized once at boot from the sandbox annotations
  kDynamic,  // upstream default: boots with the base, hot-adds each container's limits
};

struct Profile {
  std::string name;
  std::string description;
  float base_vcpus = 1;          // [hypervisor] default_vcpus (float32 in Kata): the UVM OS
  uint32_t base_memory_mib = 0;  // [hypervisor] default_memory
  SizingMode mode = SizingMode::kStatic;
  uint32_t default_workload_mem_mib = 0;  // fork: static_sandbox_default_workload_mem (0 = none)
  uint32_t default_workload_vcpus = 0;    // fork: static_sandbox_default_workload_vcpus (0 = none)
  uint32_t workload_mem_min_mib = 0;      // fork: sandbox_workload_mem_min (0 = no minimum)
  bool shares_fallback = false;           // upstream: cpu from shares when quota is unset
  uint32_t max_vcpus = 0;                 // [hypervisor] default_maxvcpus (0 = no cap known)
  uint32_t max_memory_mib = 0;            // [hypervisor] default_maxmemory (0 = no cap known)
  uint32_t memory_block_mib = 128;        // dynamic mode: guest memory hot-plug granularity
  bool sandbox_cgroup_only = true;        // [runtime] sandbox_cgroup_only
  // [hypervisor.*] enable_annotations: regular expressions matched (unanchored, as Go's
  // regexp.MatchString) against the suffix of a pod's io.katacontainers.config.hypervisor.<suffix>
  // annotations; a hypervisor annotation that none matches fails the sandbox (sizer/kata_annotations.h).
  std::vector<std::string> enabled_annotations;
  // containerd's runtime entry `pod_annotations`: globs (Go path.Match) naming the pod annotations
  // containerd copies into the sandbox spec; Kata sees no others. containerd's own default is none; the
  // default here is what Kata's docs configure (docs/how-to/containerd-kata.md, how-to-set-sandbox-
  // config-kata.md: pod_annotations = ["io.katacontainers.*"]). The daemon reads the node's real list.
  std::vector<std::string> forwarded_annotations = {"io.katacontainers.*"};
  // virtcontainers MinHypervisorMemory: a default_memory annotation below it is refused (upstream 256;
  // the Microsoft fork sets it to 0 so that the base can be zero).
  uint32_t min_hypervisor_memory_mib = 256;
};

// The six built-in profiles of SIZING.md §4, in table order.
const std::vector<Profile>& BuiltinProfiles();
// nullptr when no built-in profile has that name.
const Profile* FindBuiltinProfile(std::string_view name);

// Built-in handler -> profile defaults: kata -> aks-kata-256, kata-cc -> aks-kata-cc-2048.
std::optional<std::string> DefaultProfileForHandler(std::string_view handler);

// Built-in RuntimeClass name -> handler aliases used when the input has no RuntimeClass object:
// kata-vm-isolation, kata-mshv-vm-isolation -> kata; kata-cc-isolation -> kata-cc.
std::optional<std::string> DefaultHandlerForRuntimeClass(std::string_view runtime_class_name);

// A set of profiles and the handler -> profile mapping (built-ins plus what the operator added).
class ProfileCatalog {
 public:
  // The built-in profiles and handler defaults.
  static ProfileCatalog Builtin();

  // Adds or replaces a profile; custom profiles may shadow built-ins of the same name.
  void Put(Profile profile);
  // Maps a handler to a profile name; fails when the name is unknown.
  Status MapHandler(std::string handler, std::string_view profile_name);

  const Profile* Find(std::string_view name) const;
  // The profile for a handler, or nullptr when the handler is not VM-isolated (e.g. runc).
  const Profile* ForHandler(std::string_view handler) const;
  const std::vector<Profile>& profiles() const { return profiles_; }
  const std::map<std::string, std::string, std::less<>>& handlers() const { return handler_to_profile_; }

 private:
  std::vector<Profile> profiles_;
  std::map<std::string, std::string, std::less<>> handler_to_profile_;
};

}  // namespace uvm::sizer
