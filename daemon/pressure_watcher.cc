#include "daemon/pressure_watcher.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <exception>
#include <set>

#include <fmt/format.h>

#include "guest/shim_monitor.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

namespace asio = boost::asio;

std::string PodName(const SandboxSummary& s) {
  return fmt::format("{}/{}", s.namespace_, s.name);
}

std::string ShortId(const std::string& id) {
  return id.substr(0, 12);
}

bool SameModel(const sizer::PressureConfig& a, const sizer::PressureConfig& b) {
  return a.window == b.window && a.max_fit_points == b.max_fit_points && a.min_samples == b.min_samples &&
         a.min_span == b.min_span && a.min_growth_bytes_per_second == b.min_growth_bytes_per_second &&
         a.significance_z == b.significance_z && a.warning_time_left == b.warning_time_left &&
         a.warning_available_fraction == b.warning_available_fraction &&
         a.critical_time_left == b.critical_time_left &&
         a.critical_available_fraction == b.critical_available_fraction &&
         a.warning_psi_full_avg10 == b.warning_psi_full_avg10 &&
         a.critical_psi_full_avg10 == b.critical_psi_full_avg10 && a.clear_factor == b.clear_factor &&
         a.clear_hold == b.clear_hold && a.release_reset_fraction == b.release_reset_fraction &&
         a.guest_grace == b.guest_grace && a.log_mount_patterns == b.log_mount_patterns;
}

bool SameTrigger(const std::optional<PressureTriggerSpec>& a, const std::optional<PressureTriggerSpec>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->full == b->full && a->stall == b->stall && a->window == b->window);
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

// Retry a trigger that could not be registered (no cgroup2 tree yet, the cgroup not created yet) this
// often: rarely enough that a host without PSI costs nothing.
constexpr std::chrono::seconds kTriggerRetry{60};

class ShimMonitorGuest final : public GuestPort {
 public:
  ShimMonitorGuest(asio::io_context& io, std::string dir, std::chrono::milliseconds timeout) : io_(io) {
    options_.sandboxes_dir = std::move(dir);
    options_.timeout = timeout;
  }

  bool HasEndpoint(const std::string& sandbox_id) override {
    auto path = guest::ShimMonitorSocketPath(options_, sandbox_id);
    struct stat st {};
    return path && stat(path->c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }

  std::string Describe(const std::string& sandbox_id) const override {
    auto path = guest::ShimMonitorSocketPath(options_, sandbox_id);
    return path ? *path : fmt::format("{}/<invalid sandbox id>/shim-monitor.sock", options_.sandboxes_dir);
  }

  void Fetch(const std::string& sandbox_id, Done done) override {
    guest::AsyncFetchGuestObservation(io_, options_, sandbox_id, std::move(done));
  }

 private:
  asio::io_context& io_;
  guest::ShimMonitorOptions options_;
};

}  // namespace

std::unique_ptr<GuestPort> MakeShimMonitorGuest(asio::io_context& io, std::string sandboxes_dir,
                                                std::chrono::milliseconds timeout) {
  return std::make_unique<ShimMonitorGuest>(io, std::move(sandboxes_dir), timeout);
}

std::string DescribeTrigger(const PressureTriggerSpec& spec) {
  return fmt::format("{} {} {}", spec.full ? "full" : "some", spec.stall.count(), spec.window.count());
}

struct PressureWatcher::Trigger {
  Trigger(asio::io_context& io, std::unique_ptr<PressureTrigger> t)
      : port(std::move(t)), sd(io, port->fd()) {}
  ~Trigger() {
    // The port owns the fd: Asio must let go of it (and cancel its wait) without closing it.
    sd.release();
  }
  std::unique_ptr<PressureTrigger> port;
  asio::posix::stream_descriptor sd;
};

struct PressureWatcher::Pod {
  PressureTarget target;
  uint64_t generation = 0;
  bool in_flight = false;  // a guest fetch is outstanding: one at a time keeps samples in order
  bool again = false;      // a trigger fired meanwhile: evaluate once more when it completes
  std::optional<Clock::time_point> again_woke;
  std::optional<sizer::PressureAssessment> latest;
  std::vector<sizer::GuestMountUsage> last_mounts;  // shown while the guest view is extrapolated
  uint64_t oom_kills_total = 0;
  std::optional<bool> had_endpoint;
  std::unique_ptr<Trigger> trigger;
  std::optional<Clock::time_point> trigger_retry_at;  // set after a failed registration
};

struct PressureWatcher::Timer {
  explicit Timer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  bool armed = false;
  Clock::time_point deadline{};
};

PressureWatcher::PressureWatcher(asio::io_context& io, PressureWatcherOptions options, CgroupPort& cgroups,
                                 GuestPort& guest, metrics::DaemonMetrics& metrics, Logger& log,
                                 std::function<void()> on_level_change,
                                 std::function<Clock::time_point()> now)
    : io_(io),
      options_(std::move(options)),
      cgroups_(cgroups),
      guest_(guest),
      metrics_(metrics),
      log_(log),
      on_level_change_(std::move(on_level_change)),
      now_(std::move(now)),
      model_(options_.model),
      timer_(std::make_unique<Timer>(io)) {}

PressureWatcher::~PressureWatcher() {
  Stop();
}

PressureWatcher::Clock::time_point PressureWatcher::Now() const {
  return now_ ? now_() : Clock::now();
}

size_t PressureWatcher::trigger_count() const {
  size_t n = 0;
  for (const auto& [id, pod] : pods_) n += pod->trigger ? 1 : 0;
  return n;
}

const sizer::PressureAssessment* PressureWatcher::Latest(const std::string& sandbox_id) const {
  auto it = pods_.find(sandbox_id);
  if (it == pods_.end() || !it->second->latest) return nullptr;
  return &*it->second->latest;
}

void PressureWatcher::Update(const std::vector<PressureTarget>& pods) {
  if (stopped_) return;
  // One sandbox per pod uid: the newest (a recreated sandbox briefly coexists with the old one).
  std::map<std::string, const PressureTarget*> by_uid;
  for (const auto& t : pods) {
    auto [it, inserted] = by_uid.try_emplace(t.summary.uid, &t);
    if (!inserted && t.summary.created_at_ns > it->second->summary.created_at_ns) it->second = &t;
  }
  std::set<std::string> keep_ids;
  std::vector<std::string> keep_uids;
  for (const auto& [uid, t] : by_uid) {
    keep_ids.insert(t->summary.id);
    keep_uids.push_back(uid);
  }
  for (auto it = pods_.begin(); it != pods_.end();) {
    if (keep_ids.count(it->first)) {
      ++it;
      continue;
    }
    log_.Log(Priority::kDebug, fmt::format("pod {} sandbox {}: pressure watch ends",
                                           PodName(it->second->target.summary), ShortId(it->first)));
    DropTrigger(*it->second);
    it = pods_.erase(it);
  }
  model_.Retain(keep_uids);
  std::vector<std::string> added;
  for (const auto& [uid, t] : by_uid) {
    auto [it, inserted] = pods_.try_emplace(t->summary.id);
    if (!inserted) {
      it->second->target = *t;  // labels may have changed
      continue;
    }
    it->second = std::make_unique<Pod>();
    it->second->target = *t;
    it->second->generation = next_generation_++;
    added.push_back(t->summary.id);
  }
  for (const auto& id : added) {
    auto it = pods_.find(id);
    if (it == pods_.end()) continue;
    ArmTrigger(*it->second);
    Evaluate(*it->second, Why::kNew);
  }
  if (pods_.empty()) {
    // No VM pod: no wakeups at all.
    timer_->timer.cancel();
    timer_->armed = false;
  } else if (!timer_->armed) {
    timer_->deadline = Clock::now();
    ScheduleTick();
  }
}

void PressureWatcher::Reconfigure(const PressureWatcherOptions& options) {
  if (stopped_) return;
  bool model_changed = !SameModel(options.model, options_.model);
  bool trigger_changed = !SameTrigger(options.trigger, options_.trigger);
  bool interval_changed = options.interval != options_.interval;
  options_ = options;
  if (model_changed) {
    // New thresholds and windows: old windows were fitted under other rules.
    model_ = sizer::PressureModel(options_.model);
    log_.Log(Priority::kInfo, "pressure: new model settings; growth windows start over");
  }
  if (trigger_changed) {
    for (auto& [id, pod] : pods_) {
      DropTrigger(*pod);
      pod->trigger_retry_at.reset();
      ArmTrigger(*pod);
    }
  }
  if (interval_changed && timer_->armed) {
    timer_->timer.cancel();
    timer_->armed = false;
    timer_->deadline = Clock::now();
    ScheduleTick();
  }
}

void PressureWatcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_->timer.cancel();
  timer_->armed = false;
  for (auto& [id, pod] : pods_) DropTrigger(*pod);
}

void PressureWatcher::ScheduleTick() {
  if (stopped_ || pods_.empty()) return;
  // Fixed cadence from the previous deadline (no drift); after a stall, start again from now.
  auto now = Clock::now();
  timer_->deadline += options_.interval;
  if (timer_->deadline < now) timer_->deadline = now + options_.interval;
  timer_->armed = true;
  timer_->timer.expires_at(timer_->deadline);
  timer_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    timer_->armed = false;
    ++stats_.ticks;
    EvaluateAll();
    if (!timer_->armed) ScheduleTick();
  });
}

void PressureWatcher::EvaluateAll() {
  if (stopped_) return;
  auto now = Clock::now();
  std::vector<std::string> ids;
  ids.reserve(pods_.size());
  for (const auto& [id, pod] : pods_) ids.push_back(id);
  for (const auto& id : ids) {
    auto it = pods_.find(id);
    if (it == pods_.end()) continue;
    Pod& pod = *it->second;
    if (!pod.trigger && pod.trigger_retry_at && now >= *pod.trigger_retry_at) ArmTrigger(pod);
    Evaluate(pod, Why::kTick);
  }
}

void PressureWatcher::Evaluate(Pod& pod, Why why, std::optional<Clock::time_point> woke) {
  (void)why;
  if (stopped_) return;
  if (pod.in_flight) {
    pod.again = true;
    if (woke && !pod.again_woke) pod.again_woke = woke;
    return;
  }
  const auto& s = pod.target.summary;
  std::optional<sizer::HostObservation> host;
  auto reading = cgroups_.ReadPod(pod.target.cgroup_parent, s.uid);
  if (reading) {
    host = HostFrom(*reading);
  } else {
    metrics_.CountError("pressure_cgroup_read");
    log_.LogCause(Priority::kWarning, "pressure-cgroup:" + s.id,
                  fmt::format("pod {}: memory pressure without the host view: cannot read cgroup {}: {}",
                              PodName(s), pod.target.cgroup_parent, reading.error().message));
  }
  bool endpoint = guest_.HasEndpoint(s.id);
  if (pod.had_endpoint != endpoint) {
    if (endpoint) {
      log_.Log(Priority::kInfo, fmt::format("pod {}: memory pressure from the guest's own view ({})",
                                            PodName(s), guest_.Describe(s.id)));
    } else {
      log_.Log(Priority::kInfo,
               fmt::format("pod {}: no Kata shim monitor socket at {}: memory pressure from the host cgroup "
                           "alone (usage against its limit; files the guest keeps in RAM show only as they "
                           "are charged to the pod cgroup)",
                           PodName(s), guest_.Describe(s.id)));
    }
    pod.had_endpoint = endpoint;
  }
  if (!endpoint) {
    Complete(s.id, pod.generation, std::move(host), Error{"no endpoint"}, false, woke);
    return;
  }
  pod.in_flight = true;
  ++stats_.guest_fetches;
  guest_.Fetch(s.id, [this, id = s.id, generation = pod.generation, host = std::move(host),
                      woke](Result<sizer::GuestObservation> guest) mutable {
    Complete(id, generation, std::move(host), std::move(guest), true, woke);
  });
}

void PressureWatcher::Complete(const std::string& sandbox_id, uint64_t generation,
                               std::optional<sizer::HostObservation> host,
                               Result<sizer::GuestObservation> guest, bool fetched,
                               std::optional<Clock::time_point> woke) {
  if (stopped_) return;
  auto it = pods_.find(sandbox_id);
  // The pod went (or was recreated) while the guest answered: its series are gone, keep them gone.
  if (it == pods_.end() || it->second->generation != generation) return;
  Pod& pod = *it->second;
  const auto& s = pod.target.summary;
  if (fetched) {
    pod.in_flight = false;
    if (!guest) {
      ++stats_.guest_errors;
      metrics_.CountError("pressure_guest_fetch");
      log_.LogCause(
          Priority::kWarning, "pressure-guest:" + s.id,
          fmt::format("pod {}: cannot read the guest's memory: {}", PodName(s), guest.error().message));
    }
  }
  sizer::PressureSample sample{
      .at = Now(), .sandbox_id = s.id, .guest = std::nullopt, .host = std::move(host)};
  if (fetched && guest) sample.guest = std::move(*guest);
  sample.containers.writable_layer_bytes = pod.target.writable_layer_bytes;
  auto a = model_.Observe(s.uid, sample);
  ++stats_.evaluations;
  if (sample.guest) pod.last_mounts = sample.guest->mounts;
  Publish(pod, sample, a);
  pod.latest = std::move(a);
  if (woke) {
    stats_.last_trigger_to_publish = Clock::now() - *woke;
    log_.Log(
        Priority::kDebug,
        fmt::format(
            "pod {}: PSI trigger fired; re-evaluated and published in {} us (level {})", PodName(s),
            std::chrono::duration_cast<std::chrono::microseconds>(*stats_.last_trigger_to_publish).count(),
            sizer::LevelName(pod.latest->level)));
  }
  if (pod.again) {
    pod.again = false;
    auto w = pod.again_woke;
    pod.again_woke.reset();
    Evaluate(pod, Why::kTrigger, w);
  }
}

void PressureWatcher::Publish(Pod& pod, const sizer::PressureSample& sample,
                              const sizer::PressureAssessment& a) {
  const auto& s = pod.target.summary;
  metrics::PodPressureMetrics m;
  if (a.basis == sizer::PressureBasis::kGuest && a.available_bytes)
    m.guest_memory_available_bytes = a.available_bytes;
  if (a.basis == sizer::PressureBasis::kGuest) {
    const auto& mounts = sample.guest ? sample.guest->mounts : pod.last_mounts;
    for (const auto& mount : mounts) m.guest_filesystem_bytes[mount.mount] = mount.used_bytes;
  }
  for (const auto& g : a.GrowthByCause()) {
    if (g.kind == sizer::PressureCauseKind::kNone) continue;
    m.memory_growth_bytes_per_second[std::string(sizer::CauseLabel(g.kind))] = g.bytes_per_second;
  }
  m.memory_exhaustion_seconds = a.seconds_left;
  m.pressure_level = static_cast<int>(a.level);
  pod.oom_kills_total += a.guest_oom_kills_delta + a.host_oom_kills_delta;
  m.oom_kills_total = pod.oom_kills_total;
  metrics_.UpsertPodPressure({s.namespace_, s.name, s.uid, s.runtime_handler}, m);

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
  std::string available = a.available_bytes
                              ? fmt::format("{:.1f} MiB", static_cast<double>(*a.available_bytes) / (1 << 20))
                              : "?";
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
  if (on_level_change_) on_level_change_();
}

void PressureWatcher::ArmTrigger(Pod& pod) {
  if (stopped_ || !options_.trigger || pod.trigger) return;
  const auto& s = pod.target.summary;
  auto t = cgroups_.AddMemoryPressureTrigger(pod.target.cgroup_parent, s.uid, *options_.trigger);
  if (t) {
    try {
      pod.trigger = std::make_unique<Trigger>(io_, std::move(*t));
    } catch (const std::exception& e) {
      t = Error{fmt::format("cannot watch the trigger fd: {}", e.what())};
    }
  }
  if (!pod.trigger) {
    pod.trigger_retry_at = Clock::now() + kTriggerRetry;
    std::string why = t ? std::string("?") : t.error().message;
    if (!trigger_failure_logged_) {
      trigger_failure_logged_ = true;
      log_.Log(
          Priority::kNotice,
          fmt::format("pressure: no PSI trigger \"{}\" on pod {}: {}; such pods are evaluated every {} ms "
                      "only",
                      DescribeTrigger(*options_.trigger), PodName(s), why, options_.interval.count()));
    } else {
      log_.Log(Priority::kDebug, fmt::format("pod {}: no PSI trigger: {}", PodName(s), why));
    }
    return;
  }
  pod.trigger_retry_at.reset();
  WaitTrigger(s.id, pod.generation);
}

void PressureWatcher::WaitTrigger(const std::string& sandbox_id, uint64_t generation) {
  auto it = pods_.find(sandbox_id);
  if (it == pods_.end() || !it->second->trigger) return;
  it->second->trigger->sd.async_wait(
      asio::posix::descriptor_base::wait_error,
      [this, sandbox_id, generation](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted || stopped_) return;
        auto woke = Clock::now();
        auto found = pods_.find(sandbox_id);
        if (found == pods_.end() || found->second->generation != generation || !found->second->trigger)
          return;
        ++stats_.trigger_wakeups;
        Pod& pod = *found->second;
        if (ec || pod.trigger->port->Gone()) {
          // The cgroup went away: the pod is about to leave the runtime's listing too. Quietly.
          ++stats_.triggers_dropped;
          log_.Log(Priority::kDebug,
                   fmt::format("pod {}: PSI trigger dropped: {}", PodName(pod.target.summary),
                               ec ? ec.message() : std::string("the cgroup is gone")));
          DropTrigger(pod);
          return;
        }
        WaitTrigger(sandbox_id, generation);
        Evaluate(pod, Why::kTrigger, woke);
      });
}

void PressureWatcher::DropTrigger(Pod& pod) {
  pod.trigger.reset();
}

}  // namespace uvm::daemon
