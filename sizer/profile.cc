#include "sizer/profile.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::sizer {

namespace {
// Upstream's shipped enable_annotations (src/runtime/Makefile DEFENABLEANNOTATIONS): none of them sizes
// the UVM. What AKS's Kata configuration enables is not published, so the aks-* profiles enable nothing:
// on them a hypervisor annotation refuses the pod, which is also what a node without the key does.
std::vector<std::string> UpstreamEnabledAnnotations() {
  return {"enable_iommu", "kernel_params", "kernel_verity_params"};
}
}  // namespace

const std::vector<Profile>& BuiltinProfiles() {
  // SIZING.md §4. The card's two rules are the defaults for kata and kata-cc; AKS's later numbers and
  // upstream Kata's defaults are named profiles an operator picks per handler.
  static const std::vector<Profile> kProfiles = {
      {.name = "aks-kata-256",
       .description = "the card's kata rule: 256 MiB UVM OS + limits, 1792 MiB when none; 1 vCPU base",
       .base_vcpus = 1,
       .base_memory_mib = 256,
       .default_workload_mem_mib = 1792,
       .min_hypervisor_memory_mib = 0},
      {.name = "aks-kata-cc-2048",
       .description = "the card's kata-cc rule: 2 GiB UVM OS + limits; 1 vCPU base",
       .base_vcpus = 1,
       .base_memory_mib = 2048,
       .min_hypervisor_memory_mib = 0},
      {.name = "aks-2025",
       .description = "AKS since Jan 2025 (both handlers): the UVM is the limits, 512 MiB / 1 vCPU when none",
       .base_vcpus = 0,
       .base_memory_mib = 0,
       .default_workload_mem_mib = 512,
       .default_workload_vcpus = 1,
       .min_hypervisor_memory_mib = 0},
      {.name = "aks-2025-min128",
       .description = "AKS kata 3.19.1.kata1-3: aks-2025, and pods below 128 MiB are refused",
       .base_vcpus = 0,
       .base_memory_mib = 0,
       .default_workload_mem_mib = 512,
       .default_workload_vcpus = 1,
       .workload_mem_min_mib = 128,
       .min_hypervisor_memory_mib = 0},
      {.name = "upstream-static",
       .description = "upstream Kata with static_sandbox_resource_mgmt (clh-azure, TEE configs)",
       .base_vcpus = 1,
       .base_memory_mib = 2048,
       .shares_fallback = true,
       .enabled_annotations = UpstreamEnabledAnnotations()},
      {.name = "upstream-dynamic",
       .description = "upstream Kata default: boots with the base, hot-adds limits in 128 MiB blocks",
       .base_vcpus = 1,
       .base_memory_mib = 2048,
       .mode = SizingMode::kDynamic,
       .enabled_annotations = UpstreamEnabledAnnotations()},
  };
  return kProfiles;
}

const Profile* FindBuiltinProfile(std::string_view name) {
  const auto& all = BuiltinProfiles();
  auto it = std::find_if(all.begin(), all.end(), [&](const Profile& p) { return p.name == name; });
  return it == all.end() ? nullptr : &*it;
}

std::optional<std::string> DefaultProfileForHandler(std::string_view handler) {
  if (handler == "kata") return "aks-kata-256";
  if (handler == "kata-cc") return "aks-kata-cc-2048";
  return std::nullopt;
}

std::optional<std::string> DefaultHandlerForRuntimeClass(std::string_view runtime_class_name) {
  // AKS RuntimeClass names (SIZING.md §4): kata-vm-isolation (formerly kata-mshv-vm-isolation) and
  // kata-cc-isolation. A RuntimeClass named like its handler maps to itself.
  if (runtime_class_name == "kata-vm-isolation" || runtime_class_name == "kata-mshv-vm-isolation" ||
      runtime_class_name == "kata")
    return "kata";
  if (runtime_class_name == "kata-cc-isolation" || runtime_class_name == "kata-cc") return "kata-cc";
  return std::nullopt;
}

ProfileCatalog ProfileCatalog::Builtin() {
  ProfileCatalog catalog;
  catalog.profiles_ = BuiltinProfiles();
  for (const char* handler : {"kata", "kata-cc"}) {
    catalog.handler_to_profile_[handler] = *DefaultProfileForHandler(handler);
  }
  return catalog;
}

void ProfileCatalog::Put(Profile profile) {
  auto it = std::find_if(profiles_.begin(), profiles_.end(),
                         [&](const Profile& p) { return p.name == profile.name; });
  if (it == profiles_.end()) {
    profiles_.push_back(std::move(profile));
  } else {
    *it = std::move(profile);
  }
}

Status ProfileCatalog::MapHandler(std::string handler, std::string_view profile_name) {
  if (Find(profile_name) == nullptr) {
    std::vector<std::string> names;
    for (const auto& p : profiles_) names.push_back(p.name);
    return InvalidInput(fmt::format("handler \"{}\": unknown profile \"{}\" (known: {})", handler,
                                    profile_name, fmt::join(names, ", ")));
  }
  handler_to_profile_[std::move(handler)] = std::string(profile_name);
  return {};
}

const Profile* ProfileCatalog::Find(std::string_view name) const {
  auto it =
      std::find_if(profiles_.begin(), profiles_.end(), [&](const Profile& p) { return p.name == name; });
  return it == profiles_.end() ? nullptr : &*it;
}

const Profile* ProfileCatalog::ForHandler(std::string_view handler) const {
  auto it = handler_to_profile_.find(handler);
  return it == handler_to_profile_.end() ? nullptr : Find(it->second);
}

}  // namespace uvm::sizer
