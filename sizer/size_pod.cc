#include "sizer/size_pod.h"

#include <fmt/format.h>

#include "base/error_codes.h"
#include "sizer/kata_annotations.h"

namespace uvm::sizer {
namespace {

constexpr int64_t kMib = 1 << 20;
// The guest kernel and agent take about this much of the UVM's memory at boot (SIZING.md §5).
constexpr uint32_t kGuestOsMib = 110;

std::string Describe(const ObjectRef& ref) {
  return fmt::format("document {} ({} {}/{})", ref.document, ref.kind, ref.namespace_, ref.name);
}

std::string Mib(int64_t bytes) {
  if (bytes % kMib == 0) return fmt::format("{} MiB", bytes / kMib);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / kMib);
}

const RuntimeClass* FindRuntimeClass(const SizingContext& ctx, std::string_view name) {
  for (const auto& rc : ctx.runtime_classes) {
    if (rc.name == name) return &rc;
  }
  return nullptr;
}

struct HandlerChoice {
  std::string handler;
  const RuntimeClass* runtime_class = nullptr;
};

HandlerChoice ChooseHandler(const PodSpec& spec, const SizingContext& ctx,
                            std::vector<std::string>& warnings) {
  HandlerChoice choice;
  if (spec.runtime_class_name) {
    choice.runtime_class = FindRuntimeClass(ctx, *spec.runtime_class_name);
  }
  if (ctx.handler_override) {
    choice.handler = *ctx.handler_override;
    return choice;
  }
  if (!spec.runtime_class_name) return choice;  // the node's default runtime
  const std::string& name = *spec.runtime_class_name;
  if (choice.runtime_class) {
    choice.handler = choice.runtime_class->handler;
  } else if (auto it = ctx.runtime_class_aliases.find(name); it != ctx.runtime_class_aliases.end()) {
    choice.handler = it->second;
  } else if (auto alias = DefaultHandlerForRuntimeClass(name)) {
    choice.handler = *alias;
  } else {
    choice.handler = name;
    warnings.push_back(
        fmt::format("runtimeClassName \"{}\": no RuntimeClass of that name in the input and no alias; "
                    "assuming handler \"{}\"",
                    name, name));
  }
  return choice;
}

void WarnAboutRequests(const PodSpec& spec, std::vector<std::string>& warnings) {
  auto check = [&](const Container& c) {
    const auto& r = c.resources;
    if ((r.requests.cpu && r.requests.cpu != r.limits.cpu) ||
        (r.requests.memory && r.requests.memory != r.limits.memory)) {
      warnings.push_back(fmt::format(
          "container \"{}\": requests are ignored by Kata; the UVM is sized from limits only", c.name));
    }
  };
  for (const auto& c : spec.init_containers) check(c);
  for (const auto& c : spec.containers) check(c);
}

void WarnAboutUnboundedCgroup(const PodSpec& spec, const PodSizing& out, std::vector<std::string>& warnings) {
  if (out.pod_cgroup.memory_limit_bytes) return;
  for (const auto& c : spec.containers) {
    if (!c.resources.limits.memory || c.resources.limits.memory->IsZero()) {
      warnings.push_back(
          fmt::format("container \"{}\" has no memory limit: the pod cgroup gets no memory limit, so the "
                      "UVM's host memory "
                      "is unbounded and invisible to the scheduler",
                      c.name));
      return;
    }
  }
  warnings.push_back("the pod cgroup gets no memory limit: the UVM's host memory is unbounded");
}

}  // namespace

Result<PodSizing> SizePod(const Pod& pod, const SizingContext& ctx) {
  PodSizing out;
  out.ref = pod.ref;
  auto& warnings = out.warnings;

  HandlerChoice choice = ChooseHandler(pod.spec, ctx, warnings);
  out.handler = choice.handler;
  const Profile* profile = nullptr;
  if (ctx.profile_override) {
    profile = ctx.catalog.Find(*ctx.profile_override);
    if (!profile) return InvalidInput(fmt::format("unknown profile \"{}\"", *ctx.profile_override));
  } else {
    profile = ctx.catalog.ForHandler(out.handler);
  }

  // What the kubelet sees as spec.overhead: a flag, else the pod's own, else its RuntimeClass's podFixed
  // (RuntimeClass admission copies it).
  PodSpec spec = pod.spec;
  auto pick = [&](std::optional<Quantity> flag, std::optional<Quantity> own, std::optional<Quantity> fixed) {
    return flag ? flag : own ? own : fixed;
  };
  const ResourceList* fixed = choice.runtime_class ? &choice.runtime_class->overhead_pod_fixed : nullptr;
  spec.overhead.cpu =
      pick(ctx.overhead_override.cpu, pod.spec.overhead.cpu, fixed ? fixed->cpu : std::nullopt);
  spec.overhead.memory =
      pick(ctx.overhead_override.memory, pod.spec.overhead.memory, fixed ? fixed->memory : std::nullopt);
  if (choice.runtime_class && pod.spec.overhead.memory && fixed && fixed->memory &&
      *pod.spec.overhead.memory != *fixed->memory) {
    warnings.push_back(
        fmt::format("spec.overhead.memory {} differs from RuntimeClass \"{}\" overhead.podFixed.memory {}: "
                    "admission rejects "
                    "such a pod",
                    pod.spec.overhead.memory->String(), choice.runtime_class->name, fixed->memory->String()));
  }

  // The kubelet adds spec.overhead to the pod cgroup's limit with apimachinery's Add and Value(): beyond
  // int64 that is garbage (Quantity::ValueOverflows), so refuse it rather than size with a clamp.
  if (spec.overhead.memory && spec.overhead.memory->ValueOverflows()) {
    return InvalidInput(
        fmt::format("{}: spec.overhead.memory is too large: above 2^63-1 bytes", Describe(pod.ref)));
  }
  auto sandbox = SandboxResourcesForPod(spec, ctx.kubelet);
  if (!sandbox) {
    return WithMessage(sandbox.error(), fmt::format("{}: {}", Describe(pod.ref), sandbox.error().message));
  }
  out.sandbox = *sandbox;
  out.qos = PodQos(spec);
  out.pod_cgroup = PodCgroupLimitsForPod(spec, ctx.kubelet);
  // What the pod declared counts whatever happens next: the scheduler adds it for a runc pod or a sandbox
  // the runtime refuses just the same.
  DeclaredOverhead declared{
      .memory_bytes = spec.overhead.memory ? spec.overhead.memory->Value() : 0,
      .cpu_millis = spec.overhead.cpu && !spec.overhead.cpu->MilliValueOverflows()
                        ? spec.overhead.cpu->MilliValue()
                        : 0,
  };
  out.overhead.declared_memory_bytes = declared.memory_bytes;
  out.overhead.declared_cpu_millis = declared.cpu_millis;

  if (!profile) {
    out.profile = std::nullopt;
    warnings.push_back(
        out.handler.empty()
            ? std::string("no runtimeClassName: runs on the node's default runtime, not VM-isolated")
            : fmt::format("handler \"{}\" has no sizing profile: not VM-isolated", out.handler));
    return out;
  }
  out.profile = profile->name;
  // Kata's per-pod annotations replace the profile's base before static sizing adds the workload
  // (kata oci/utils.go SandboxConfig); a hypervisor annotation the node does not enable fails the sandbox.
  AnnotatedProfile annotated = ApplyKataAnnotations(*profile, pod.annotations, ctx.host_cpus);
  for (auto& note : annotated.notes) warnings.push_back(std::move(note));
  out.sandbox_cgroup_only = annotated.profile.sandbox_cgroup_only;
  if (annotated.refusal) {
    out.refusal = annotated.refusal;
    warnings.push_back(fmt::format("the runtime refuses this sandbox: {}", *out.refusal));
    return out;
  }

  SandboxSizing sized = SizeSandbox(out.sandbox, ContainerResourcesForPod(spec, ctx.kubelet), declared,
                                    annotated.profile, ctx.host);
  out.uvm = sized.kata.uvm;
  out.refusal = sized.kata.refusal;
  out.host_memory_bytes = sized.host_memory_bytes;
  out.overhead = sized.overhead;
  for (auto& note : sized.kata.notes) warnings.push_back(std::move(note));
  if (out.refusal) {
    warnings.push_back(fmt::format("the runtime refuses this sandbox: {}", *out.refusal));
    return out;
  }

  WarnAboutRequests(pod.spec, warnings);
  WarnAboutUnboundedCgroup(pod.spec, out, warnings);
  if (out.overhead.shortfall_bytes > 0) {
    warnings.push_back(fmt::format(
        "declared overhead memory {} is {} short of the {} this UVM needs beyond the pod's limits (UVM {} "
        "MiB + "
        "host overhead): the VMM can be OOM-killed on the host",
        declared.memory_bytes == 0 ? std::string("(none)") : Mib(declared.memory_bytes),
        Mib(out.overhead.shortfall_bytes), Mib(out.overhead.required_memory_bytes), out.uvm->memory_mib));
  }
  uint32_t limit_mib = MibFromBytes(out.sandbox.memory_limit_in_bytes);
  if (limit_mib > 0 && out.uvm->memory_mib < limit_mib + kGuestOsMib) {
    warnings.push_back(
        fmt::format("the guest kernel and agent take ~{} MiB of the UVM's {} MiB: the workload's {} MiB "
                    "limit cannot be fully "
                    "used before the guest runs out of memory",
                    kGuestOsMib, out.uvm->memory_mib, limit_mib));
  }
  return out;
}

}  // namespace uvm::sizer
