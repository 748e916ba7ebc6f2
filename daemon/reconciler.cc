#include "daemon/reconciler.h"

#include "sizer/kata_annotations.h"

#include <chrono>

#include <fmt/format.h>

#include "daemon/startup_profile.h"
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

std::optional<sizer::HostObservation> HostFrom(const CgroupReading& r) {
  if (!r.memory_usage_bytes) return std::nullopt;
  return sizer::HostObservation{.usage_bytes = *r.memory_usage_bytes,
                                .limit_bytes = r.memory_limit_bytes,
                                .anon_bytes = r.anon_bytes,
                                .file_bytes = r.file_bytes,
                                .shmem_bytes = r.shmem_bytes,
                                .psi_full_avg10 = r.memory_full_avg10,
                                .oom_kills = r.oom_kills};
}

}  // namespace

RuntimeSnapshot FetchRuntime(RuntimePort& runtime, const std::set<std::string>& inspected, bool full,
                             const std::set<std::string>& dynamic_handlers,
                             const std::set<std::string>& vm_handlers, const StartQuery& start) {
  RuntimeSnapshot snap;
  auto list = runtime.ListSandboxes();
  if (!list) {
    snap.error = list.error();
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
  if (start.enabled) {
    std::set<std::string> ask;
    for (const auto& s : snap.sandboxes) {
      if (s.ready && !start.settled.count(s.id) && StartWatchable(s.created_at_ns, start.watch_since_ns))
        ask.insert(s.id);
    }
    if (!ask.empty()) {
      auto starts = runtime.FirstContainerStarts(ask);
      if (starts) {
        snap.first_container_started_ns = std::move(*starts);
      } else {
        snap.container_starts_error = starts.error();
      }
    }
  }
  return snap;
}

Reconciler::Reconciler(ReconcileSetup setup, CgroupPort& cgroups, GuestPort& guest,
                       metrics::DaemonMetrics& metrics, Logger& log, std::function<void()> on_level_change,
                       std::function<Clock::time_point()> now, std::function<int64_t()> wall_now_ns)
    : setup_(std::move(setup)),
      cgroups_(&cgroups),
      guest_(&guest),
      metrics_(metrics),
      log_(log),
      on_level_change_(std::move(on_level_change)),
      now_(std::move(now)),
      wall_now_ns_(std::move(wall_now_ns)),
      exporter_(metrics) {
  watch_since_ns_ = WallNowNs();
  RebuildLedger();
}

int64_t Reconciler::WallNowNs() const {
  if (wall_now_ns_) return wall_now_ns_();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StartQuery Reconciler::StartQueryNow() const {
  StartQuery q{.enabled = true, .watch_since_ns = watch_since_ns_, .settled = {}};
  for (const auto& [id, pod] : table_.by_sandbox()) {
    if (pod.start_settled) q.settled.insert(id);
  }
  return q;
}

Reconciler::Clock::time_point Reconciler::Now() const {
  return now_ ? now_() : Clock::now();
}

std::set<std::string> Reconciler::InspectedIds() const {
  std::set<std::string> ids;
  for (const auto& [id, pod] : table_.by_sandbox()) {
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

bool Reconciler::HasWatched() const {
  for (const auto& [id, pod] : table_.by_sandbox()) {
    if (pod.watched()) return true;
  }
  return false;
}

bool Reconciler::HasUnwatchedWithCgroup() const {
  for (const auto& [id, pod] : table_.by_sandbox()) {
    if (!pod.watched() && pod.inspected && !pod.detail.cgroup_parent.empty()) return true;
  }
  return false;
}

void Reconciler::Flush() {
  if (exporter_.Flush(table_) > 0) {
    ++generation_;
    ledger_stale_ = true;
  }
}

void Reconciler::RebuildLedgerIfChanged() {
  if (ledger_stale_) RebuildLedger();
}

void Reconciler::RebuildLedger() {
  const NodeCapacity& capacity = setup_.capacity;
  std::vector<sizer::LedgerPod> pods = LedgerPodsFrom(table_);
  ledger_ = sizer::BuildNodeLedger(capacity.node, capacity.allocatable, pods, capacity.shapes);
  exporter_.PublishNode(ledger_, capacity.shapes);
  ledger_stale_ = false;
}

void Reconciler::SetPorts(CgroupPort& cgroups, GuestPort& guest) {
  cgroups_ = &cgroups;
  guest_ = &guest;
}

void Reconciler::Reconfigure(ReconcileSetup setup) {
  bool model_changed = !(setup.pressure == setup_.pressure);
  setup_ = std::move(setup);
  if (model_changed && table_.size() > 0) {
    log_.Log(Priority::kInfo, "pressure: new model settings; growth windows start over");
  }
  for (auto& [id, pod] : table_.by_sandbox()) {
    if (model_changed) StopWatching(pod);
    if (pod.inspected) Size(pod);
    exporter_.Touch(pod.summary().uid);
  }
  ++generation_;  // the mode shows in the API view
  Flush();
  RebuildLedger();  // new allocatable or shapes, even with no pod
}

void Reconciler::Apply(const RuntimeSnapshot& snap) {
  if (snap.error) return;  // the caller reports the runtime as down; pods keep their last known state
  std::set<std::string> live;
  std::vector<std::string> observe_now;
  for (const auto& s : snap.sandboxes) {
    if (!s.ready) continue;  // a stopped sandbox has no VM any more
    live.insert(s.id);
    bool inserted = false;
    PodState& pod = table_.Upsert(s, &inserted);
    if (inserted) {
      pod.generation = next_generation_++;
      exporter_.Touch(s.uid);
      log_.Log(Priority::kDebug, fmt::format("pod {} sandbox {} discovered (handler \"{}\")", PodName(s),
                                             s.id, s.runtime_handler));
    }
    if (auto d = snap.details.find(s.id); d != snap.details.end()) {
      if (d->second) {
        bool first = !pod.inspected;
        bool moved = pod.detail.cgroup_parent != d->second->cgroup_parent;
        pod.detail = *d->second;
        pod.inspected = true;
        pod.last_error.reset();
        Size(pod);
        exporter_.Touch(s.uid);
        // Known pods are read by the tick; only a pod seen (or moved) for the first time is read at once.
        if (first || moved) observe_now.push_back(s.id);
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
    ProfileStart(pod, snap);
  }
  if (snap.container_starts_error) {
    metrics_.CountError("cri_container_starts");
    log_.LogCause(Priority::kWarning, "container-starts",
                  fmt::format("startup profile: cannot read container start times: {}",
                              snap.container_starts_error->message));
  }
  std::vector<std::string> gone;
  for (const auto& [id, pod] : table_.by_sandbox()) {
    if (!live.count(id)) gone.push_back(id);
  }
  for (const auto& id : gone) Forget(id);
  for (const auto& id : observe_now) {
    PodState* pod = table_.Find(id);
    if (!pod) continue;
    if (pod->watched()) {
      Observe(*pod, std::nullopt);
    } else if (!pod->detail.cgroup_parent.empty()) {
      Read(*pod);
    }
  }
  Flush();
  RebuildLedgerIfChanged();
}

void Reconciler::Size(PodState& pod) {
  const SandboxDetail& d = pod.detail;
  bool was_watched = pod.watched();
  pod.notes.clear();
  const sizer::Profile* profile = setup_.catalog.ForHandler(d.summary.runtime_handler);
  if (!profile) {
    if (was_watched) StopWatching(pod);
    if (pod.profile) {
      log_.Log(Priority::kNotice, fmt::format("pod {}: handler \"{}\" is no longer VM-isolated here",
                                              PodName(d.summary), d.summary.runtime_handler));
    }
    pod.profile.reset();
    pod.sizing = {};
    pod.sandbox_cgroup_only = true;
    pod.host_overhead_measured_bytes.reset();
    pod.phase = PodPhase::kSized;
    return;
  }
  pod.profile = profile->name;
  sizer::SandboxResources resources = d.resources.value_or(sizer::SandboxResources{});
  if (!d.resources) {
    // containerd writes no sizing annotations without resources: the runtime sizes a pod without limits.
    pod.notes.push_back("the runtime reported no sandbox resources: sized as a pod without limits");
  }
  // The sandbox's annotations are the pod's; Kata sees those containerd forwards and applies them before
  // sizing (sizer/kata_annotations.h). A refusal there is the runtime's refusal of the sandbox.
  sizer::AnnotatedProfile annotated =
      sizer::ApplyKataAnnotations(*profile, d.summary.annotations, setup_.host_cpus);
  for (auto& n : annotated.notes) pod.notes.push_back(std::move(n));
  pod.sandbox_cgroup_only = annotated.profile.sandbox_cgroup_only;
  if (annotated.refusal) {
    pod.sizing = {};
    pod.sizing.kata.refusal = annotated.refusal;
  } else {
    pod.sizing = sizer::SizeSandbox(
        resources, d.containers, d.overhead ? sizer::DeclaredFromCri(*d.overhead) : sizer::DeclaredOverhead{},
        annotated.profile, setup_.host);
  }
  for (const auto& n : pod.sizing.kata.notes) pod.notes.push_back(n);
  PodPhase before = pod.phase;
  pod.phase = PodPhase::kSized;
  if (pod.sizing.kata.refusal) {
    log_.Log(Priority::kWarning,
             fmt::format("pod {}: the runtime refuses sandbox {} with profile {}: {}", PodName(d.summary),
                         d.summary.id, profile->name, *pod.sizing.kata.refusal));
  } else if (before == PodPhase::kDiscovered) {
    LogSized(pod, *profile);
  }
}

void Reconciler::LogSized(const PodState& pod, const sizer::Profile& profile) const {
  const auto& s = pod.summary();
  const auto& uvm = *pod.sizing.kata.uvm;
  const auto& overhead = pod.sizing.overhead;
  log_.Log(Priority::kInfo,
           fmt::format("pod {} sized: handler {} profile {}: UVM {} vCPUs {} MiB, host memory {}, overhead "
                       "needed {} declared {}",
                       PodName(s), s.runtime_handler, profile.name, uvm.vcpus, uvm.memory_mib,
                       MibText(*pod.sizing.host_memory_bytes), MibText(overhead.required_memory_bytes),
                       MibText(overhead.declared_memory_bytes)));
  if (overhead.shortfall_bytes <= 0) return;
  bool unlimited = !pod.detail.resources || pod.detail.resources->memory_limit_in_bytes == 0;
  if (unlimited) {
    // No memory limit: the pod cgroup is unbounded, so nothing OOM-kills the VMM, but the scheduler sees
    // none of the UVM's host memory.
    log_.Log(
        Priority::kWarning,
        fmt::format("pod {}: no memory limit, so its UVM's {} of host memory are invisible to the "
                    "scheduler (declared overhead {}); give it memory limits, or a RuntimeClass overhead "
                    "that covers them",
                    PodName(s), MibText(*pod.sizing.host_memory_bytes),
                    MibText(overhead.declared_memory_bytes)));
    return;
  }
  log_.Log(
      Priority::kWarning,
      fmt::format("pod {}: declared overhead {} is {} short of what its UVM needs beyond its limits ({}): "
                  "the VMM can be OOM-killed on the host; raise the RuntimeClass overhead.podFixed.memory "
                  "(see `uvm-sizer runtimeclass --handler {}`){}",
                  PodName(s), MibText(overhead.declared_memory_bytes), MibText(overhead.shortfall_bytes),
                  MibText(overhead.required_memory_bytes), s.runtime_handler,
                  setup_.mode == CgroupMode::kEnforce ? "; enforce mode raises the pod cgroup" : ""));
}

bool Reconciler::Read(PodState& pod) {
  const auto& s = pod.summary();
  pod.cgroup_read_at = Now();
  ++stats_.cgroup_reads;
  auto reading = cgroups_->ReadPod(pod.detail.cgroup_parent, s.uid);
  exporter_.Touch(s.uid);
  if (!reading) {
    pod.last_error = reading.error().message;
    metrics_.CountError("cgroup_read");
    log_.LogCause(Priority::kWarning, "cgroup-read:" + s.id,
                  fmt::format("pod {}: cannot read its cgroup {}: {}", PodName(s), pod.detail.cgroup_parent,
                              reading.error().message));
    return false;
  }
  pod.cgroup = *reading;
  pod.last_error.reset();
  return true;
}

void Reconciler::ReadUsage() {
  auto now = Now();
  for (auto& [id, pod] : table_.by_sandbox()) {
    if (pod.watched() || !pod.inspected || pod.detail.cgroup_parent.empty()) continue;
    if (now - pod.cgroup_read_at >= setup_.cgroup_read_interval) Read(pod);
  }
  Flush();
  RebuildLedgerIfChanged();
}

void Reconciler::Enforce(PodState& pod) {
  const auto& s = pod.summary();
  const auto& sizing = pod.sizing;
  if (!pod.profile || !pod.cgroup || setup_.mode != CgroupMode::kEnforce ||
      !sizing.required_cgroup_memory_bytes)
    return;
  CgroupReading& cgroup = *pod.cgroup;
  bool ok = true;
  // After a write only the file written is read again (by the writer), and patched into this tick's reading.
  auto record = [&](const char* what, const Result<WriteOutcome>& r, int64_t target) -> bool {
    if (!r) {
      ok = false;
      pod.last_error = r.error().message;
      metrics_.CountCgroupWrite("error");
      metrics_.CountError("cgroup_write");
      log_.LogCause(Priority::kError, fmt::format("cgroup-write:{}:{}", what, s.id),
                    fmt::format("pod {}: cannot raise {} of {} to {}: {}", PodName(s), what,
                                pod.detail.cgroup_parent, target, r.error().message));
      return false;
    }
    if (!r->written) return false;
    ++pod.cgroup_writes;
    metrics_.CountCgroupWrite("ok");
    log_.Log(Priority::kNotice,
             fmt::format(
                 "pod {}: raised {} of {} from {} to {} because its UVM ({} vCPUs, {} MiB) needs {} on "
                 "the host",
                 PodName(s), what, pod.detail.cgroup_parent, r->before ? std::to_string(*r->before) : "max",
                 r->after ? std::to_string(*r->after) : "?", sizing.kata.uvm->vcpus,
                 sizing.kata.uvm->memory_mib, target));
    return true;
  };
  int64_t memory = *sizing.required_cgroup_memory_bytes;
  if (cgroup.memory_limit_bytes && *cgroup.memory_limit_bytes < memory) {
    auto r = cgroups_->RaiseMemoryLimit(pod.detail.cgroup_parent, memory);
    if (record("memory limit", r, memory)) cgroup.memory_limit_bytes = r->after;
  }
  if (sizing.required_cgroup_cpu_quota_us && cgroup.cpu_quota_us && cgroup.cpu_period_us &&
      *cgroup.cpu_quota_us > 0) {
    // The requirement is vCPUs x period; express it at the cgroup's own period.
    int64_t quota = static_cast<int64_t>(sizing.kata.uvm->vcpus) * *cgroup.cpu_period_us;
    if (*cgroup.cpu_quota_us < quota) {
      auto r = cgroups_->RaiseCpuQuota(pod.detail.cgroup_parent, quota, *cgroup.cpu_period_us);
      if (record("cpu quota", r, quota) && r->after) cgroup.cpu_quota_us = r->after;
    }
  }
  // sandbox_cgroup_only=false: Kata puts the VMM (and the guest RAM it touches) in an unconstrained
  // /kata_overhead/<id>; bound it by the host memory the UVM needs. Not there (yet, or runc): nothing to do.
  // A pod's io.katacontainers.config.runtime.sandbox_cgroup_only annotation overrides the node's setting
  // (kata oci/utils.go addRuntimeConfigOverrides; runtime annotations need no enable_annotations): Size()
  // kept the result.
  if (!pod.sandbox_cgroup_only && pod.overhead_bound_bytes.value_or(-1) < memory) {
    auto r = cgroups_->BoundKataOverhead(s.id, memory);
    if (r) {
      pod.overhead_bound_bytes = memory;
      record("kata_overhead memory limit", r, memory);
    } else if (r.error().code != ErrorCode::kNotFound) {
      record("kata_overhead memory limit", r, memory);
    }
  }
  // A failed write leaves the pod short of what its UVM needs: not applied, whatever an earlier tick did.
  pod.phase = ok ? PodPhase::kApplied : PodPhase::kSized;
  if (ok) pod.last_error.reset();
}

void Reconciler::Tick() {
  ++stats_.ticks;
  std::vector<std::string> ids;
  for (const auto& [id, pod] : table_.by_sandbox()) {
    if (pod.watched()) ids.push_back(id);
  }
  for (const auto& id : ids) {
    if (PodState* pod = table_.Find(id)) Observe(*pod, std::nullopt);
  }
  Flush();
  RebuildLedgerIfChanged();
}

void Reconciler::ObserveNow(const std::string& sandbox_id, std::optional<Clock::time_point> woke) {
  PodState* pod = table_.Find(sandbox_id);
  if (!pod || !pod->watched()) return;
  ++stats_.trigger_observations;
  Observe(*pod, woke);
  Flush();
  RebuildLedgerIfChanged();
}

void Reconciler::Observe(PodState& pod, std::optional<Clock::time_point> woke) {
  if (pod.guest_in_flight) {
    pod.observe_again = true;
    if (woke && !pod.again_woke) pod.again_woke = woke;
    return;
  }
  const auto& s = pod.summary();
  std::optional<sizer::HostObservation> host;
  if (Read(pod)) {
    Enforce(pod);
    host = HostFrom(*pod.cgroup);
  }
  bool endpoint = guest_->HasEndpoint(s.id);
  if (pod.had_guest_endpoint != endpoint) {
    if (endpoint) {
      log_.Log(Priority::kInfo, fmt::format("pod {}: memory pressure from the guest's own view ({})",
                                            PodName(s), guest_->Describe(s.id)));
    } else {
      log_.Log(Priority::kInfo,
               fmt::format("pod {}: no Kata shim monitor socket at {}: memory pressure from the host cgroup "
                           "alone (usage against its limit; files the guest keeps in RAM show only as they "
                           "are charged to the pod cgroup)",
                           PodName(s), guest_->Describe(s.id)));
    }
    pod.had_guest_endpoint = endpoint;
  }
  if (!endpoint) {
    Complete(s.id, pod.generation, std::move(host), std::nullopt, woke);
    return;
  }
  pod.guest_in_flight = true;
  ++stats_.guest_fetches;
  guest_->Fetch(s.id, [this, id = s.id, generation = pod.generation, host = std::move(host),
                       woke](Result<sizer::GuestObservation> guest) mutable {
    Complete(id, generation, std::move(host), std::move(guest), woke);
    Flush();
  });
}

void Reconciler::Complete(const std::string& sandbox_id, uint64_t generation,
                          std::optional<sizer::HostObservation> host,
                          std::optional<Result<sizer::GuestObservation>> guest,
                          std::optional<Clock::time_point> woke) {
  PodState* found = table_.Find(sandbox_id);
  // The pod went, was recreated or stopped being watched while the guest answered: drop the answer.
  if (!found || found->generation != generation || !found->watched()) return;
  PodState& pod = *found;
  const auto& s = pod.summary();
  if (guest) {
    pod.guest_in_flight = false;
    if (!*guest) {
      ++stats_.guest_errors;
      metrics_.CountError("pressure_guest_fetch");
      log_.LogCause(
          Priority::kWarning, "pressure-guest:" + s.id,
          fmt::format("pod {}: cannot read the guest's memory: {}", PodName(s), guest->error().message));
    }
  }
  sizer::PressureSample sample{
      .at = Now(), .sandbox_id = s.id, .guest = std::nullopt, .host = std::move(host)};
  if (guest && *guest) {
    ProfileShimCreate(pod, **guest);
    sample.guest = std::move(**guest);
  }
  // Both readings of this one observation (the cgroup read and the guest fetch it started), or none: a
  // stale guest answer is never set against a newer cgroup reading. With sandbox_cgroup_only=false the VMM
  // runs in /kata_overhead, outside the pod cgroup: nothing to measure there.
  pod.host_overhead_measured_bytes =
      pod.sandbox_cgroup_only
          ? MeasuredHostOverhead(sample.host ? std::optional(sample.host->usage_bytes) : std::nullopt,
                                 sample.guest)
          : std::nullopt;
  sample.containers.writable_layer_bytes = pod.writable_layer_bytes;
  auto a = pod.pressure_window.Observe(sample, setup_.pressure, scratch_);
  ++stats_.evaluations;
  if (sample.guest) pod.last_mounts = sample.guest->mounts;
  pod.oom_kills_total += a.guest_oom_kills_delta + a.host_oom_kills_delta;
  Journal(pod, a);
  bool changed = a.level_changed;
  pod.pressure = std::move(a);
  exporter_.Touch(s.uid);
  if (woke) {
    stats_.last_trigger_to_publish = Clock::now() - *woke;
    log_.Log(
        Priority::kDebug,
        fmt::format(
            "pod {}: PSI trigger fired; re-evaluated and published in {} us (level {})", PodName(s),
            std::chrono::duration_cast<std::chrono::microseconds>(*stats_.last_trigger_to_publish).count(),
            sizer::LevelName(pod.pressure->level)));
  }
  if (changed && on_level_change_) {
    Flush();
    on_level_change_();
  }
  if (pod.observe_again) {
    pod.observe_again = false;
    auto w = pod.again_woke;
    pod.again_woke.reset();
    Observe(pod, w);
  }
}

void Reconciler::Journal(const PodState& pod, const sizer::PressureAssessment& a) {
  const auto& s = pod.summary();
  if (a.guest_oom_kills_delta + a.host_oom_kills_delta > 0) {
    log_.Log(Priority::kWarning, fmt::format("pod {}: {} OOM kill(s) in the {}", PodName(s),
                                             a.guest_oom_kills_delta + a.host_oom_kills_delta,
                                             a.guest_oom_kills_delta > 0 ? "guest" : "pod cgroup"));
  }
  if (!a.level_changed) return;
  metrics_.CountPressureTransition(sizer::LevelName(a.level), sizer::CauseLabel(a.cause.kind));
  std::string cause(sizer::CauseLabel(a.cause.kind));
  if (!a.cause.mount.empty()) cause += fmt::format(" ({})", a.cause.mount);
  std::string rate = a.cause.kind == sizer::PressureCauseKind::kNone
                         ? "nothing grows"
                         : sizer::FormatByteRate(a.cause.bytes_per_second);
  std::string left = a.seconds_left ? sizer::FormatDuration(*a.seconds_left) : std::string("not predicted");
  std::string available = a.available_bytes ? MibText(*a.available_bytes) : "?";
  Priority priority = a.level == sizer::PressureLevel::kCritical  ? Priority::kError
                      : a.level == sizer::PressureLevel::kWarning ? Priority::kWarning
                                                                  : Priority::kNotice;
  std::string line = fmt::format(
      "pod {}: memory pressure {} (was {}): cause {}, rate {}, time left {}, available {}, basis {}",
      PodName(s), sizer::LevelName(a.level), sizer::LevelName(a.previous_level), cause, rate, left, available,
      sizer::BasisName(a.basis));
  if (!a.reason.empty()) line += fmt::format("; why: {}", a.reason);
  if (!a.advice.empty()) line += fmt::format("; advice: {}", a.advice);
  log_.Log(priority, line);
}

void Reconciler::ProfileStart(PodState& pod, const RuntimeSnapshot& snap) {
  const auto& s = pod.summary();
  if (!pod.shim_create_settled && (!StartWatchable(s.created_at_ns, watch_since_ns_) ||
                                   (pod.inspected && !IsKataRuntimeType(pod.detail.runtime_type)))) {
    pod.shim_create_settled = true;  // before we watched, or no Kata shim to ask
  }
  if (pod.start_settled) return;
  auto asked = snap.first_container_started_ns.find(s.id);
  SandboxStartFacts facts{.sandbox_created_at_ns = s.created_at_ns,
                          .first_container_started_at_ns =
                              asked != snap.first_container_started_ns.end() ? asked->second : std::nullopt,
                          .watch_since_ns = watch_since_ns_,
                          .now_ns = WallNowNs()};
  StartDecision d = DecideSandboxStart(facts);
  switch (d.verdict) {
    case StartVerdict::kWait:
      return;
    case StartVerdict::kIgnore:
      pod.start_settled = true;
      return;
    case StartVerdict::kSkip:
      pod.start_settled = true;
      exporter_.CountStartSkipped(d.reason);
      log_.Log(Priority::kInfo,
               fmt::format("pod {} sandbox {}: start not profiled ({})", PodName(s), s.id, d.reason));
      return;
    case StartVerdict::kObserve:
      // The bucket needs the pod's sizing: wait for its inspection (retried at the next poll).
      if (!pod.inspected) return;
      pod.start_settled = true;
      pod.start_seconds = d.seconds;
      exporter_.ObserveSandboxStart(pod, d.seconds);
      log_.Log(Priority::kDebug, fmt::format("pod {} sandbox {} started in {:.3f} s (handler \"{}\")",
                                             PodName(s), s.id, d.seconds, s.runtime_handler));
      return;
  }
}

void Reconciler::ProfileShimCreate(PodState& pod, const sizer::GuestObservation& guest) {
  if (pod.shim_create_settled || !pod.inspected || !IsKataRuntimeType(pod.detail.runtime_type)) return;
  std::optional<ShimCreateTotals> totals;
  if (guest.shim_create_count && guest.shim_create_sum_ms)
    totals = ShimCreateTotals{.sum_ms = *guest.shim_create_sum_ms, .count = *guest.shim_create_count};
  StartDecision d = DecideShimCreate(totals);
  const auto& s = pod.summary();
  switch (d.verdict) {
    case StartVerdict::kWait:
    case StartVerdict::kIgnore:
      return;
    case StartVerdict::kSkip:
      pod.shim_create_settled = true;
      exporter_.CountStartSkipped(d.reason);
      log_.Log(Priority::kDebug,
               fmt::format("pod {} sandbox {}: shim create not profiled ({})", PodName(s), s.id, d.reason));
      return;
    case StartVerdict::kObserve:
      pod.shim_create_settled = true;
      exporter_.ObserveShimCreate(pod, d.seconds);
      return;
  }
}

void Reconciler::StopWatching(PodState& pod) {
  // A new generation drops any guest answer in flight; the window and the verdict start over.
  pod.generation = next_generation_++;
  pod.pressure_window = {};
  pod.pressure.reset();
  pod.last_mounts.clear();
  pod.guest_in_flight = false;
  pod.observe_again = false;
  pod.again_woke.reset();
  pod.had_guest_endpoint.reset();
  pod.host_overhead_measured_bytes.reset();
  exporter_.Touch(pod.summary().uid);
}

void Reconciler::Forget(const std::string& id) {
  PodState* pod = table_.Find(id);
  if (!pod) return;
  const auto& s = pod->summary();
  log_.Log(Priority::kInfo, fmt::format("pod {} sandbox {} gone", PodName(s), id));
  log_.ForgetCauses(id);
  if (!pod->detail.cgroup_parent.empty()) cgroups_->Forget(pod->detail.cgroup_parent);
  // Series are per uid: a pod whose sandbox was recreated keeps the new sandbox's series.
  exporter_.Touch(table_.Erase(id));
}

}  // namespace uvm::daemon
