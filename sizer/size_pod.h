// One pod from a manifest -> its handler, profile, sandbox resources, UVM, host cost, overhead and the
// warnings a person should read. The only place that chains the rules of kubelet.h, kata.h, overhead.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "sizer/kubelet.h"
#include "sizer/overhead.h"
#include "sizer/pod.h"
#include "sizer/profile.h"

namespace uvm::sizer {

// Everything that is the same for every pod of one run.
struct SizingContext {
  ProfileCatalog catalog = ProfileCatalog::Builtin();
  KubeletOptions kubelet;
  HostOverheadModel host;
  // RuntimeClass objects from the input (they win over the aliases).
  std::vector<RuntimeClass> runtime_classes;
  // RuntimeClass name -> handler, used when the input has no RuntimeClass of that name; the built-in
  // aliases (DefaultHandlerForRuntimeClass) apply after these.
  std::map<std::string, std::string, std::less<>> runtime_class_aliases;
  // Operator overrides (CLI flags): profile > handler > the pod's runtimeClassName.
  std::optional<std::string> profile_override;
  std::optional<std::string> handler_override;
  // Declared overhead overrides: flag > spec.overhead > the RuntimeClass's overhead.podFixed.
  ResourceList overhead_override;
  // The node's CPUs, for Kata's checks of the default_vcpus / default_max_vcpus annotations; 0 = unknown
  // (the checks are skipped, with a warning).
  uint32_t host_cpus = 0;
};

struct PodSizing {
  ObjectRef ref;
  std::string handler;                 // empty when the pod names no runtime class (the node default)
  std::optional<std::string> profile;  // nullopt: not VM-isolated (e.g. runc)
  // The profile's numbers after the pod's Kata annotations (ApplyKataAnnotations); the named profile's
  // when the pod has none. Meaningful only when `profile` is set.
  bool sandbox_cgroup_only = true;
  QosClass qos = QosClass::kBestEffort;
  SandboxResources sandbox;
  PodCgroupLimits pod_cgroup;  // as the kubelet sets it, declared overhead included
  std::optional<UvmSize> uvm;
  std::optional<std::string> refusal;  // the runtime would refuse the sandbox
  std::optional<int64_t> host_memory_bytes;
  OverheadReport overhead;
  std::vector<std::string> warnings;
};

// Sizes one pod. Fails only on input no kubelet would accept (an unknown --profile, a CPU limit that
// overflows): such an error names the pod and the value.
Result<PodSizing> SizePod(const Pod& pod, const SizingContext& context);

}  // namespace uvm::sizer
