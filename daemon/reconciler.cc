#include "daemon/reconciler.h"

#include <fmt/format.h>

#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

constexpr int64_t kMib = 1 << 20;

std::string PodName(const SandboxSummary& s) {
  return fmt::format("{}/{}", s.namespace_, s.name);
}

std::string MibText(int64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / kMib);
}

}  // namespace

const char* PhaseName(PodPhase phase) {
  switch (phase) {
    case PodPhase::kDiscovered:
      return "discovered";
    case PodPhase::kSized:
      return "sized";
    case PodPhase::kApplied:
      return "applied";
    case PodPhase::kGone:
      return "gone";
  }
  return "?";
}

RuntimeSnapshot FetchRuntime(RuntimePort& runtime, const std::set<std::string>& inspected, bool full,
                             const std::set<std::string>& dynamic_handlers,
                             const std::set<std::string>& vm_handlers) {
  RuntimeSnapshot snap;
  auto list = runtime.ListSandboxes();
  if (!list) {
    snap.error = list.error().message;
    return snap;
  }
  snap.sandboxes = std::move(*list);
  for (const auto& s : snap.sandboxes) {
    if (!s.ready || (!full && inspected.count(s.id))) continue;
    auto detail = runtime.InspectSandbox(s);
    if (detail && dynamic_handlers.count(s.runtime_handler)) {
      auto containers = runtime.ContainerLimits(s.id);
      if (containers) detail->containers = std::move(*containers);
    }
    snap.details.emplace(s.id, std::move(detail));
  }
  if (full) {
    for (const auto& s : snap.sandboxes) {
      if (!s.ready || !vm_handlers.count(s.runtime_handler)) continue;
      // A failure here only costs one source of the pressure model: the pod keeps its last value.
      if (auto bytes = runtime.WritableLayerBytes(s.id)) snap.writable_layer_bytes[s.id] = *bytes;
    }
  }
  return snap;
}

Reconciler::Reconciler(ReconcileSetup setup, CgroupPort& cgroups, metrics::DaemonMetrics& metrics,
                       Logger& log)
    : setup_(std::move(setup)), cgroups_(cgroups), metrics_(metrics), log_(log) {}

std::set<std::string> Reconciler::InspectedIds() const {
  std::set<std::string> ids;
  for (const auto& [id, pod] : pods_) {
    if (pod.inspected) ids.insert(id);
  }
  return ids;
}

std::set<std::string> Reconciler::VmHandlers() const {
  std::set<std::string> out;
  for (const auto& [handler, profile] : setup_.catalog.handlers()) out.insert(handler);
  return out;
}

std::set<std::string> Reconciler::DynamicHandlers() const {
  std::set<std::string> out;
  for (const auto& [handler, profile] : setup_.catalog.handlers()) {
    const sizer::Profile* p = setup_.catalog.Find(profile);
    if (p && p->mode == sizer::SizingMode::kDynamic) out.insert(handler);
  }
  return out;
}

void Reconciler::Reconfigure(ReconcileSetup setup) {
  setup_ = std::move(setup);
  for (auto& [id, pod] : pods_) {
    if (pod.inspected) Size(pod);
  }
}

void Reconciler::Apply(const RuntimeSnapshot& snap) {
  if (snap.error) return;  // the caller reports the runtime as down; pods keep their last known state
  std::set<std::string> live;
  for (const auto& s : snap.sandboxes) {
    if (!s.ready) continue;  // a stopped sandbox has no VM any more
    live.insert(s.id);
    auto [it, inserted] = pods_.try_emplace(s.id);
    PodRecord& pod = it->second;
    if (inserted) {
      pod.detail.summary = s;
      log_.Log(Priority::kDebug, fmt::format("pod {} sandbox {} discovered (handler \"{}\")", PodName(s),
                                             s.id, s.runtime_handler));
    }
    bool inspected_now = false;
    if (auto d = snap.details.find(s.id); d != snap.details.end()) {
      if (d->second) {
        inspected_now = true;
        pod.detail = *d->second;
        pod.inspected = true;
        pod.last_error.reset();
        Size(pod);
      } else {
        pod.last_error = d->second.error().message;
        metrics_.CountError("cri_inspect");
        log_.LogCause(Priority::kWarning, "inspect:" + s.id,
                      fmt::format("pod {}: cannot inspect sandbox {}: {}", PodName(s), s.id,
                                  d->second.error().message));
      }
    }
    if (auto w = snap.writable_layer_bytes.find(s.id); w != snap.writable_layer_bytes.end()) {
      pod.writable_layer_bytes = w->second;
    }
    auto now = std::chrono::steady_clock::now();
    if (pod.inspected && (inspected_now || now - pod.last_cgroup_read >= setup_.cgroup_read_interval)) {
      pod.last_cgroup_read = now;
      ReadAndEnforce(pod);
    }
  }
  std::vector<std::string> gone;
  for (const auto& [id, pod] : pods_) {
    if (!live.count(id)) gone.push_back(id);
  }
  for (const auto& id : gone) Forget(id);
}

void Reconciler::Size(PodRecord& pod) {
  const SandboxDetail& d = pod.detail;
  pod.notes.clear();
  const sizer::Profile* profile = setup_.catalog.ForHandler(d.summary.runtime_handler);
  if (!profile) {
    pod.profile.reset();
    pod.sizing = {};
    pod.phase = PodPhase::kSized;
    Publish(pod);
    return;
  }
  pod.profile = profile->name;
  sizer::SandboxResources resources = d.resources.value_or(sizer::SandboxResources{});
  if (!d.resources) {
    // containerd writes no sizing annotations without resources: the runtime sizes a pod without limits.
    pod.notes.push_back("the runtime reported no sandbox resources: sized as a pod without limits");
  }
  sizer::DeclaredOverhead declared;
  if (d.overhead) {
    declared.memory_bytes = std::max<int64_t>(d.overhead->memory_limit_in_bytes, 0);
    if (d.overhead->cpu_period > 0 && d.overhead->cpu_quota > 0) {
      declared.cpu_millis = d.overhead->cpu_quota * 1000 / d.overhead->cpu_period;
    }
  }
  pod.sizing = sizer::SizeSandbox(resources, d.containers, declared, *profile, setup_.host);
  for (const auto& n : pod.sizing.kata.notes) pod.notes.push_back(n);
  PodPhase before = pod.phase;
  pod.phase = PodPhase::kSized;
  const auto& s = d.summary;
  if (pod.sizing.kata.refusal) {
    log_.Log(Priority::kWarning, fmt::format("pod {}: the runtime refuses sandbox {} with profile {}: {}",
                                             PodName(s), s.id, profile->name, *pod.sizing.kata.refusal));
  } else if (before == PodPhase::kDiscovered) {
    const auto& uvm = *pod.sizing.kata.uvm;
    log_.Log(
        Priority::kInfo,
        fmt::format(
            "pod {} sized: handler {} profile {}: UVM {} vCPUs {} MiB, host memory {}, overhead needed {} "
            "declared {}",
            PodName(s), s.runtime_handler, profile->name, uvm.vcpus, uvm.memory_mib,
            MibText(*pod.sizing.host_memory_bytes), MibText(pod.sizing.overhead.required_memory_bytes),
            MibText(pod.sizing.overhead.declared_memory_bytes)));
    if (pod.sizing.overhead.shortfall_bytes > 0 && resources.memory_limit_in_bytes == 0) {
      // No memory limit: the pod cgroup is unbounded, so nothing OOM-kills the VMM, but the scheduler sees
      // none of the UVM's host memory.
      log_.Log(Priority::kWarning,
               fmt::format(
                   "pod {}: no memory limit, so its UVM's {} of host memory are invisible to the scheduler "
                   "(declared overhead {}); give it memory limits, or a RuntimeClass overhead that covers "
                   "them",
                   PodName(s), MibText(*pod.sizing.host_memory_bytes),
                   MibText(pod.sizing.overhead.declared_memory_bytes)));
    } else if (pod.sizing.overhead.shortfall_bytes > 0) {
      log_.Log(
          Priority::kWarning,
          fmt::format(
              "pod {}: declared overhead {} is {} short of what its UVM needs beyond its limits ({}): the "
              "VMM can be OOM-killed on the host; raise the RuntimeClass overhead.podFixed.memory (see "
              "`uvm-sizer runtimeclass --handler {}`){}",
              PodName(s), MibText(pod.sizing.overhead.declared_memory_bytes),
              MibText(pod.sizing.overhead.shortfall_bytes),
              MibText(pod.sizing.overhead.required_memory_bytes), s.runtime_handler,
              setup_.mode == CgroupMode::kEnforce ? "; enforce mode raises the pod cgroup" : ""));
    }
  }
}

void Reconciler::ReadAndEnforce(PodRecord& pod) {
  const auto& s = pod.detail.summary;
  // Every pod's cgroup is read (its usage is worth a series); only VM pods are ever written.
  if (pod.detail.cgroup_parent.empty()) {
    Publish(pod);
    return;
  }
  auto reading = cgroups_.ReadPod(pod.detail.cgroup_parent, s.uid);
  if (!reading) {
    pod.last_error = reading.error().message;
    metrics_.CountError("cgroup_read");
    log_.LogCause(Priority::kWarning, "cgroup-read:" + s.id,
                  fmt::format("pod {}: cannot read its cgroup: {}", PodName(s), reading.error().message));
    Publish(pod);
    return;
  }
  pod.cgroup = *reading;
  const auto& sizing = pod.sizing;
  if (pod.profile && setup_.mode == CgroupMode::kEnforce && sizing.required_cgroup_memory_bytes) {
    bool ok = true;
    auto record = [&](const char* what, const Result<WriteOutcome>& r, int64_t target) {
      if (!r) {
        ok = false;
        metrics_.CountCgroupWrite("error");
        metrics_.CountError("cgroup_write");
        log_.LogCause(Priority::kError, fmt::format("cgroup-write:{}:{}", what, s.id),
                      fmt::format("pod {}: cannot raise {} of {} to {}: {}", PodName(s), what,
                                  pod.detail.cgroup_parent, target, r.error().message));
        return;
      }
      if (!r->written) return;
      ++pod.cgroup_writes;
      metrics_.CountCgroupWrite("ok");
      log_.Log(Priority::kNotice,
               fmt::format(
                   "pod {}: raised {} of {} from {} to {} because its UVM ({} vCPUs, {} MiB) needs {} on the "
                   "host",
                   PodName(s), what, pod.detail.cgroup_parent, r->before ? std::to_string(*r->before) : "max",
                   r->after ? std::to_string(*r->after) : "?", sizing.kata.uvm->vcpus,
                   sizing.kata.uvm->memory_mib, target));
    };
    int64_t memory = *sizing.required_cgroup_memory_bytes;
    if (pod.cgroup.memory_limit_bytes && *pod.cgroup.memory_limit_bytes < memory) {
      record("memory limit", cgroups_.RaiseMemoryLimit(pod.detail.cgroup_parent, memory), memory);
    }
    if (sizing.required_cgroup_cpu_quota_us && pod.cgroup.cpu_quota_us && pod.cgroup.cpu_period_us &&
        *pod.cgroup.cpu_quota_us > 0) {
      // The requirement is vCPUs x period; express it at the cgroup's own period.
      int64_t quota = static_cast<int64_t>(sizing.kata.uvm->vcpus) * *pod.cgroup.cpu_period_us;
      if (*pod.cgroup.cpu_quota_us < quota) {
        record("cpu quota",
               cgroups_.RaiseCpuQuota(pod.detail.cgroup_parent, quota, *pod.cgroup.cpu_period_us), quota);
      }
    }
    // sandbox_cgroup_only=false: Kata puts the VMM (and the guest RAM it touches) in an unconstrained
    // /kata_overhead/<id>; bound it by the host memory the UVM needs. Not there (yet, or runc): nothing to
    // do.
    const sizer::Profile* profile = setup_.catalog.Find(*pod.profile);
    if (profile && !profile->sandbox_cgroup_only && !pod.overhead_bounded) {
      auto r = cgroups_.BoundKataOverhead(s.id, memory);
      if (r) {
        pod.overhead_bounded = true;
        record("kata_overhead memory limit", r, memory);
      } else if (r.error().message.find("No such file") == std::string::npos) {
        record("kata_overhead memory limit", r, memory);
      }
    }
    if (ok && pod.cgroup_writes > 0) {
      if (auto again = cgroups_.ReadPod(pod.detail.cgroup_parent, s.uid)) pod.cgroup = *again;
    }
    if (ok) pod.phase = PodPhase::kApplied;
  }
  Publish(pod);
}

void Reconciler::Publish(const PodRecord& pod) {
  ++generation_;
  const auto& s = pod.detail.summary;
  metrics::PodLabels labels{s.namespace_, s.name, s.uid, s.runtime_handler};
  metrics::PodSizingMetrics m;
  m.vm_isolated = pod.profile.has_value();
  if (pod.profile && pod.sizing.kata.uvm) {
    m.uvm_vcpus = pod.sizing.kata.uvm->vcpus;
    m.uvm_memory_bytes = static_cast<int64_t>(pod.sizing.kata.uvm->memory_mib) * kMib;
    m.host_memory_bytes = pod.sizing.host_memory_bytes;
    m.overhead_required_bytes = pod.sizing.overhead.required_memory_bytes;
    m.overhead_declared_bytes = pod.sizing.overhead.declared_memory_bytes;
  }
  m.cgroup_memory_limit_bytes = pod.cgroup.memory_limit_bytes;
  m.cgroup_memory_usage_bytes = pod.cgroup.memory_usage_bytes;
  metrics_.UpsertPod(labels, m);
}

void Reconciler::Forget(const std::string& id) {
  auto it = pods_.find(id);
  if (it == pods_.end()) return;
  PodRecord pod = std::move(it->second);
  pods_.erase(it);
  ++generation_;
  const auto& s = pod.detail.summary;
  log_.Log(Priority::kInfo, fmt::format("pod {} sandbox {} gone", PodName(s), id));
  if (!pod.detail.cgroup_parent.empty()) cgroups_.Forget(pod.detail.cgroup_parent);
  // Series are keyed by pod uid: a pod whose sandbox was recreated keeps the new sandbox's series.
  for (const auto& [other_id, other] : pods_) {
    if (other.detail.summary.uid == s.uid) {
      Publish(other);
      return;
    }
  }
  metrics_.RemovePod(s.uid);
}

}  // namespace uvm::daemon
