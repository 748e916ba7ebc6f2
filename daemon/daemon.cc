#include "daemon/daemon.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <boost/asio.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "daemon/adapters.h"
#include "daemon/config.h"
#include "daemon/node_profiles.h"
#include "daemon/psi_triggers.h"
#include "daemon/reconciler.h"
#include "daemon/scheduler.h"
#include "kubelet-plugin/api/api_server.h"
#include "metrics/daemon_metrics.h"
#include "sizer/formats/size_report.h"

namespace uvm::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string MibText(int64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// The node's profiles, and its ledger's allocatable and shapes (sized with those profiles): at start and
// on SIGHUP, so a bad kubelet file or shape manifest refuses the new configuration like a bad key.
Result<ReconcileSetup> SetupFrom(const DaemonConfig& config, Logger& log) {
  auto node = BuildNodeCatalog(config, ReadWholeFile, HostCpus());
  if (!node) return node.error();
  auto machine = ReadMachineFacts();
  if (!machine) return machine.error();
  auto capacity = LoadNodeCapacity(config, node->catalog, *machine);
  if (!capacity) return capacity.error();
  for (const auto& note : node->notes) log.Log(Priority::kInfo, note);
  for (const auto& note : capacity->notes) log.Log(Priority::kInfo, note);
  std::vector<std::string> shapes;
  for (const auto& s : capacity->shapes) shapes.push_back(s.name);
  log.Log(Priority::kInfo,
          fmt::format("capacity: node {}: allocatable {} memory, {} mCPU, {} pods, from {}; shapes: {}",
                      capacity->node, MibText(capacity->allocatable.memory_bytes),
                      capacity->allocatable.cpu_millis,
                      capacity->allocatable.pods > 0 ? std::to_string(capacity->allocatable.pods) : "any",
                      capacity->allocatable_source,
                      shapes.empty() ? "none" : fmt::format("{}", fmt::join(shapes, ", "))));
  return ReconcileSetup{.catalog = std::move(node->catalog),
                        .host = config.host_overhead,
                        .mode = config.cgroups.mode,
                        .cgroup_read_interval = config.cgroups.read_interval,
                        .pressure = config.pressure.model,
                        .host_cpus = HostCpus(),
                        .capacity = std::move(*capacity)};
}

api::LedgerView ToView(const sizer::NodeLedger& ledger, const NodeCapacity& capacity) {
  api::LedgerView v{.node = ledger.node,
                    .allocatable_memory_bytes = ledger.allocatable.memory_bytes,
                    .allocatable_cpu_millis = ledger.allocatable.cpu_millis,
                    .allocatable_pods = ledger.allocatable.pods,
                    .allocatable_source = capacity.allocatable_source,
                    .committed_memory_bytes = ledger.host.committed_memory_bytes,
                    .committed_cpu_millis = ledger.host.committed_cpu_millis,
                    .free_memory_bytes = ledger.host.free_memory_bytes,
                    .free_cpu_millis = ledger.host.free_cpu_millis,
                    .pods = ledger.pods,
                    .vm_pods = ledger.vm_pods,
                    .vm_pods_unlimited_cgroup = ledger.vm_pods_unlimited_cgroup,
                    .pods_request_unknown = ledger.pods_request_unknown,
                    .vm_pods_measured_above_model = ledger.vm_pods_measured_above_model,
                    .shapes = {},
                    .notes = ledger.notes};
  for (size_t i = 0; i < ledger.fits.size() && i < capacity.shapes.size(); ++i) {
    const auto& fit = ledger.fits[i];
    const auto& shape = capacity.shapes[i].pod;
    v.shapes.push_back({.shape = fit.shape,
                        .host_fit = fit.host.count,
                        .host_binding = sizer::FitResourceName(fit.host.binding),
                        .host_memory_bytes = sizer::HostMemoryNeed(shape),
                        .scheduler_memory_bytes = sizer::SchedulerMemoryNeed(shape),
                        .cpu_millis = sizer::CpuNeed(shape)});
  }
  return v;
}

// What SizePod needs, copied out of the loop's state: gRPC threads read it, SIGHUP replaces it.
struct SizingSnapshot {
  sizer::ProfileCatalog catalog;
  sizer::HostOverheadModel host;
  sizer::KubeletOptions kubelet;
};

Result<api::SizeResponse> SizeForApi(const SizingSnapshot& snap, const api::SizeRequest& req) {
  sizer::SizingContext ctx{.catalog = snap.catalog, .kubelet = snap.kubelet, .host = snap.host};
  ctx.host_cpus = HostCpus();
  if (!req.profile.empty()) {
    if (!snap.catalog.Find(req.profile))
      return Error{fmt::format("profile: unknown profile \"{}\"", req.profile)};
    ctx.profile_override = req.profile;
  }
  if (!req.handler.empty()) ctx.handler_override = req.handler;
  if (req.manifest_yaml) {
    auto report = sizer::formats::SizeManifest(*req.manifest_yaml, ctx);
    if (!report) return Error{fmt::format("manifest_yaml: {}", report.error().message)};
    return api::SizeResponse{sizer::formats::SizeReportJson(*report), report->refused};
  }
  // CRI resources: size exactly as the daemon sizes a running sandbox.
  const sizer::Profile* profile =
      !req.profile.empty() ? snap.catalog.Find(req.profile) : snap.catalog.ForHandler(req.handler);
  sizer::formats::SizeReport report;
  sizer::PodSizing pod;
  pod.ref = {.kind = "Sandbox", .namespace_ = "", .name = "resources", .document = 0};
  pod.handler = req.handler;
  const auto& r = *req.resources;
  pod.sandbox = {r[0], r[1], r[2], r[3]};
  if (profile) {
    pod.profile = profile->name;
    const auto& o = req.declared_overhead;
    auto declared = sizer::DeclaredFromCri({o[0], o[1], o[2], o[3]});
    auto sized = sizer::SizeSandbox(pod.sandbox, {}, declared, *profile, snap.host);
    pod.uvm = sized.kata.uvm;
    pod.refusal = sized.kata.refusal;
    pod.host_memory_bytes = sized.host_memory_bytes;
    pod.overhead = sized.overhead;
    pod.warnings = sized.kata.notes;
  } else {
    pod.warnings.push_back(fmt::format("handler \"{}\" has no sizing profile: not VM-isolated", req.handler));
  }
  report.refused = pod.refusal.has_value();
  report.pods.push_back(std::move(pod));
  return api::SizeResponse{sizer::formats::SizeReportJson(report), report.refused};
}

std::optional<PressureTriggerSpec> TriggerSpec(const DaemonConfig& config) {
  const auto& p = config.pressure;
  if (!p.psi_trigger) return std::nullopt;
  return PressureTriggerSpec{.full = false, .stall = p.psi_trigger_stall, .window = p.psi_trigger_window};
}

api::PodView ToView(const PodState& pod, bool exported) {
  const auto& s = pod.summary();
  api::PodView v{.sandbox_id = s.id,
                 .namespace_ = s.namespace_,
                 .name = s.name,
                 .uid = s.uid,
                 .runtime_handler = s.runtime_handler,
                 .profile = pod.profile,
                 .phase = PhaseName(pod.phase)};
  if (pod.sizing.kata.uvm) {
    v.vcpus = pod.sizing.kata.uvm->vcpus;
    v.memory_mib = pod.sizing.kata.uvm->memory_mib;
  }
  v.refusal = pod.sizing.kata.refusal;
  v.host_memory_bytes = pod.sizing.host_memory_bytes;
  v.overhead_required_bytes = pod.sizing.overhead.required_memory_bytes;
  v.overhead_declared_bytes = pod.sizing.overhead.declared_memory_bytes;
  v.overhead_shortfall_bytes = pod.sizing.overhead.shortfall_bytes;
  v.cgroup_parent = pod.detail.cgroup_parent;
  if (pod.cgroup) {
    v.cgroup_memory_limit_bytes = pod.cgroup->memory_limit_bytes;
    v.cgroup_memory_usage_bytes = pod.cgroup->memory_usage_bytes;
  }
  v.cgroup_writes = pod.cgroup_writes;
  v.host_overhead_measured_bytes = pod.host_overhead_measured_bytes;
  if (pod.sizing.host_memory_bytes && pod.sizing.kata.uvm) {
    v.host_overhead_model_bytes =
        *pod.sizing.host_memory_bytes - static_cast<int64_t>(pod.sizing.kata.uvm->memory_mib) * (1 << 20);
  }
  v.notes = pod.notes;
  v.last_error = pod.last_error;
  // Only the pod's exported sandbox carries the pressure verdict (the one its series show).
  if (exported && pod.watched() && pod.pressure) {
    v.pressure_level = sizer::LevelName(pod.pressure->level);
    v.pressure_cause = sizer::CauseLabel(pod.pressure->cause.kind);
    v.pressure_basis = sizer::BasisName(pod.pressure->basis);
    v.exhaustion_seconds = pod.pressure->seconds_left;
    v.pressure_advice = pod.pressure->advice;
  }
  return v;
}

class Daemon {
 public:
  Daemon(DaemonOptions options, DaemonConfig config, Logger& log, metrics::DaemonMetrics& metrics,
         ReconcileSetup setup)
      : options_(std::move(options)),
        config_(std::move(config)),
        log_(log),
        metrics_(metrics),
        runtime_(MakeCriRuntime(config_.cri.endpoint, config_.cri.call_timeout)),
        cgroups_(MakeCgroupfsPort(config_.cgroups.root, config_.kubelet_cgroup_root)),
        guest_(MakeShimMonitorGuest(io_, config_.pressure.shim_monitor_dir, config_.pressure.shim_timeout)),
        reconciler_(std::move(setup), *cgroups_, *guest_, metrics_, log_, [this] { PublishView(); }),
        triggers_(io_, *cgroups_, log_, TriggerSpec(config_),
                  [this](const std::string& id, Clock::time_point woke) {
                    reconciler_.ObserveNow(id, woke);
                    PublishIfMoved();
                  }),
        scheduler_(io_,
                   [this](Clock::duration lag) {
                     metrics_.ObserveLoopLagSeconds(std::chrono::duration<double>(lag).count());
                   }),
        signals_(io_, SIGTERM, SIGINT, SIGHUP) {}

  int Run() {
    PublishSizing();
    auto api =
        api::ApiServer::Start(config_.api.socket, config_.api.group, [this](const api::SizeRequest& req) {
          std::shared_ptr<const SizingSnapshot> snap;
          {
            std::lock_guard lock(sizing_mu_);
            snap = sizing_;
          }
          return SizeForApi(*snap, req);
        });
    if (!api) {
      // The API is for people and tools; the node keeps its metrics and enforcement without it.
      metrics_.CountError("api_listen");
      log_.Log(Priority::kError, fmt::format("API unavailable: {}", api.error().message));
    } else {
      api_ = std::move(*api);
    }
    started_at_ = std::chrono::system_clock::now();
    PublishView();
    WaitForSignals();
    feed_ = StartChangeFeed(config_.cri.endpoint, [this] { asio::post(io_, [this] { Fetch(false); }); });
    log_.Log(Priority::kInfo,
             fmt::format("uvm-sizer daemon started: runtime {}, change feed {} (probing), cgroups {} in {} "
                         "mode, metrics on {}",
                         config_.cri.endpoint, feed_->Mode(), config_.cgroups.root,
                         CgroupModeName(config_.cgroups.mode), config_.metrics.listen));
    sd_notify(0, "READY=1\nSTATUS=waiting for the first runtime listing");
    ScheduleJobs();
    Fetch(true);
    io_.run();
    return 0;
  }

 private:
  // Every cadence is one job of the one scheduler; jobs with nothing to do are paused (no wakeups).
  void ScheduleJobs() {
    poll_job_ = scheduler_.Add("runtime-poll", config_.cri.poll_interval,
                               [this] { Fetch(Clock::now() - last_full_ >= config_.cri.resync_interval); });
    tick_job_ = scheduler_.Add(
        "pressure-tick", config_.pressure.interval,
        [this] {
          reconciler_.Tick();
          SyncTriggers();
          PublishIfMoved();
        },
        /*paused=*/true);
    usage_job_ = scheduler_.Add(
        "usage-read", config_.cgroups.read_interval,
        [this] {
          reconciler_.ReadUsage();
          PublishIfMoved();
        },
        /*paused=*/true);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
      // Pinged from the loop itself: a stuck loop stops the pings and systemd restarts us.
      sd_notify(0, "WATCHDOG=1");
      scheduler_.Add("watchdog",
                     std::chrono::duration_cast<milliseconds>(std::chrono::microseconds(usec / 2)),
                     [] { sd_notify(0, "WATCHDOG=1"); });
    }
  }

  // The tick runs while there is a VM pod to watch, the usage reads while there is another pod.
  void UpdateJobs() {
    auto set = [this](Scheduler::JobId job, bool wanted) {
      if (wanted) {
        scheduler_.Resume(job);
      } else {
        scheduler_.Pause(job);
      }
    };
    set(tick_job_, reconciler_.HasWatched());
    set(usage_job_, reconciler_.HasUnwatchedWithCgroup());
  }

  void SyncTriggers() {
    std::vector<TriggerTarget> targets;
    for (const auto& [id, pod] : reconciler_.table().by_sandbox()) {
      if (!pod.watched()) continue;
      const auto& s = pod.summary();
      targets.push_back({id, pod.detail.cgroup_parent, s.uid, fmt::format("{}/{}", s.namespace_, s.name)});
    }
    triggers_.Sync(targets);
  }

  void WaitForSignals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        Reload();
        WaitForSignals();
        return;
      }
      Stop(signo);
    });
  }

  void Stop(int signo) {
    log_.Log(Priority::kInfo, fmt::format("signal {}: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT"));
    sd_notify(0, "STOPPING=1");
    stopping_ = true;
    scheduler_.Stop();
    triggers_.Stop();
    if (feed_) feed_->Stop();
    if (api_) api_->Stop(milliseconds(300));
    runtime_->CancelInFlight();
    io_.stop();
    worker_.stop();
    worker_.join();
  }

  void Reload() {
    sd_notify(0, "RELOADING=1");
    auto next = LoadConfig(options_.config_path, options_.config_path_given);
    Result<ReconcileSetup> setup = [&]() -> Result<ReconcileSetup> {
      if (!next) return next.error();
      // node.name is restart-only: the ledger keeps the name every series is labelled with.
      DaemonConfig same_node = *next;
      same_node.node.name = reconciler_.setup().capacity.node;
      return SetupFrom(same_node, log_);
    }();
    if (!setup) {
      metrics_.CountError("config_reload");
      log_.Log(Priority::kError, fmt::format("SIGHUP: new configuration refused, keeping the old one: {}",
                                             setup.error().message));
      sd_notify(0, "READY=1");
      return;
    }
    // One line naming every key that changed, and which of them wait for a restart.
    auto changes = DiffConfig(config_, *next);
    ApplyLive(*next, std::move(*setup));
    log_.Log(Priority::kInfo, DescribeChanges(changes));
    sd_notify(0, "READY=1");
    Fetch(true);
  }

  // Everything but the restart-only keys (the endpoints the daemon listens on or connects to, and the
  // cgroup root) takes effect now, on running pods too.
  void ApplyLive(const DaemonConfig& next, ReconcileSetup setup) {
    if (!options_.log_level) log_.set_max(PriorityFromName(next.log.level));
    if (next.cri.call_timeout != config_.cri.call_timeout) {
      // The worker may be inside a call on the old port: it keeps its own reference until it returns.
      runtime_ = MakeCriRuntime(config_.cri.endpoint, next.cri.call_timeout);
    }
    bool new_cgroups = next.kubelet_cgroup_root != config_.kubelet_cgroup_root;
    bool new_guest = next.pressure.shim_monitor_dir != config_.pressure.shim_monitor_dir ||
                     next.pressure.shim_timeout != config_.pressure.shim_timeout;
    if (new_cgroups) cgroups_ = MakeCgroupfsPort(config_.cgroups.root, next.kubelet_cgroup_root);
    if (new_guest)
      guest_ = MakeShimMonitorGuest(io_, next.pressure.shim_monitor_dir, next.pressure.shim_timeout);
    if (new_cgroups || new_guest) {
      reconciler_.SetPorts(*cgroups_, *guest_);
      triggers_.SetPort(*cgroups_);
    }
    DaemonConfig kept = config_;
    config_ = next;
    // The node's name labels every series: it changes at a restart only (as the hostname is read then).
    config_.node.name = kept.node.name;
    setup.capacity.node = reconciler_.setup().capacity.node;
    config_.cri.endpoint = kept.cri.endpoint;
    config_.metrics.listen = kept.metrics.listen;
    config_.api = kept.api;
    config_.cgroups.root = kept.cgroups.root;
    reconciler_.Reconfigure(std::move(setup));
    scheduler_.SetInterval(poll_job_, config_.cri.poll_interval);
    scheduler_.SetInterval(tick_job_, config_.pressure.interval);
    scheduler_.SetInterval(usage_job_, config_.cgroups.read_interval);
    std::vector<TriggerTarget> none;
    triggers_.Reconfigure(TriggerSpec(config_), none);
    SyncTriggers();
    UpdateJobs();
    PublishSizing();
    PublishView();
  }

  // Runtime calls block (with deadlines), so they run on the worker; the result comes back to the loop.
  void Fetch(bool full) {
    if (stopping_) return;
    if (fetching_) {
      pending_ = true;
      pending_full_ = pending_full_ || full;
      return;
    }
    fetching_ = true;
    if (full) last_full_ = Clock::now();
    auto inspected = reconciler_.InspectedIds();
    auto dynamic = reconciler_.DynamicHandlers();
    auto vm = reconciler_.VmHandlers();
    auto start = reconciler_.StartQueryNow();
    asio::post(worker_, [this, runtime = runtime_, inspected = std::move(inspected),
                         dynamic = std::move(dynamic), vm = std::move(vm), start = std::move(start), full] {
      auto snapshot =
          std::make_shared<RuntimeSnapshot>(FetchRuntime(*runtime, inspected, full, dynamic, vm, start));
      asio::post(io_, [this, snapshot] { OnSnapshot(*snapshot); });
    });
  }

  void OnSnapshot(const RuntimeSnapshot& snapshot) {
    fetching_ = false;
    if (stopping_) return;
    auto started = Clock::now();
    if (snapshot.error) {
      metrics_.SetCriUp(false);
      if (cri_up_ != false) {
        metrics_.CountError("cri_unavailable");
        sd_notify(0, fmt::format("STATUS=waiting for the runtime at {}", config_.cri.endpoint).c_str());
      }
      cri_up_ = false;
      log_.LogCause(
          Priority::kWarning, "cri-down",
          fmt::format("waiting for the runtime at {}: {} (retrying every {} ms)", config_.cri.endpoint,
                      snapshot.error->message, config_.cri.poll_interval.count()));
    } else {
      if (cri_up_ != true) {
        log_.Log(Priority::kInfo, fmt::format("runtime at {} is up: {} sandboxes", config_.cri.endpoint,
                                              snapshot.sandboxes.size()));
      }
      cri_up_ = true;
      metrics_.SetCriUp(true);
      reconciler_.Apply(snapshot);
      UpdateJobs();
      SyncTriggers();
      sd_notify(0, fmt::format("STATUS=watching {} pods", reconciler_.table().size()).c_str());
    }
    metrics_.ObserveReconcileSeconds(std::chrono::duration<double>(Clock::now() - started).count());
    PublishIfMoved();
    if (pending_) {
      pending_ = false;
      bool full = pending_full_;
      pending_full_ = false;
      Fetch(full);
    }
  }

  void PublishSizing() {
    auto snap = std::make_shared<const SizingSnapshot>(
        SizingSnapshot{reconciler_.setup().catalog, reconciler_.setup().host, config_.kubelet});
    std::lock_guard lock(sizing_mu_);
    sizing_ = std::move(snap);
  }

  // Rebuilding 250 pods' views on every poll was most of the idle daemon's CPU: only when something moved.
  void PublishIfMoved() {
    if (reconciler_.generation() == seen_generation_ && cri_up_ == published_cri_up_) return;
    PublishView();
  }

  void PublishView() {
    seen_generation_ = reconciler_.generation();
    published_cri_up_ = cri_up_;
    if (!api_) return;
    api::DaemonView view{
        .version = UVM_SIZER_VERSION,
        .cri_endpoint = config_.cri.endpoint,
        .cgroup_mode = CgroupModeName(config_.cgroups.mode),
        .change_feed = feed_ ? feed_->Mode() : "poll",
        .cri_up = cri_up_.value_or(false),
        .started_at_unix_seconds =
            std::chrono::duration_cast<std::chrono::seconds>(started_at_.time_since_epoch()).count()};
    const PodTable& table = reconciler_.table();
    view.pods.reserve(table.size());
    for (const auto& [id, pod] : table.by_sandbox()) view.pods.push_back(ToView(pod, table.IsExported(pod)));
    view.ledger = ToView(reconciler_.ledger(), reconciler_.setup().capacity);
    api_->Publish(std::move(view));
  }

  DaemonOptions options_;
  DaemonConfig config_;
  Logger& log_;
  metrics::DaemonMetrics& metrics_;
  asio::io_context io_;
  asio::thread_pool worker_{1};
  std::shared_ptr<RuntimePort> runtime_;
  std::unique_ptr<CgroupPort> cgroups_;
  std::unique_ptr<GuestPort> guest_;
  Reconciler reconciler_;
  PsiTriggers triggers_;
  Scheduler scheduler_;
  Scheduler::JobId poll_job_ = 0, tick_job_ = 0, usage_job_ = 0;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<api::ApiServer> api_;
  std::mutex sizing_mu_;
  std::shared_ptr<const SizingSnapshot> sizing_;
  std::chrono::system_clock::time_point started_at_;
  asio::signal_set signals_;
  Clock::time_point last_full_{};
  std::optional<bool> cri_up_;
  std::optional<bool> published_cri_up_;
  uint64_t seen_generation_ = UINT64_MAX;
  bool fetching_ = false;
  bool pending_ = false;
  bool pending_full_ = false;
  bool stopping_ = false;
};

// Each watched pod keeps ~15 cgroup fds open (cgroups/handle.h): 250 pods need more than the usual 1024.
void RaiseOpenFileLimit(Logger& log) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= 8192) return;
  rlim_t want = std::min<rlim_t>(lim.rlim_max, 8192);
  if (want <= lim.rlim_cur) return;
  lim.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    log.Log(Priority::kWarning,
            fmt::format("cannot raise the open-file limit to {}: {}", want, std::strerror(errno)));
  }
}

}  // namespace

int RunDaemon(const DaemonOptions& options) {
  Logger log(options.log_level.value_or(Priority::kInfo));
  RaiseOpenFileLimit(log);
  auto config = LoadConfig(options.config_path, options.config_path_given);
  if (!config) {
    log.Log(Priority::kError, fmt::format("cannot start: {}", config.error().message));
    return 1;
  }
  if (!options.log_level) log.set_max(PriorityFromName(config->log.level));
  auto setup = SetupFrom(*config, log);
  if (!setup) {
    log.Log(Priority::kError, fmt::format("cannot start: {}", setup.error().message));
    return 1;
  }
  metrics::DaemonMetrics metrics(UVM_SIZER_VERSION, setup->capacity.node);
  if (auto st = metrics.Listen(config->metrics.listen); !st) {
    log.Log(Priority::kError, fmt::format("cannot start: metrics.listen: {}", st.error().message));
    return 1;
  }
  Daemon daemon(options, std::move(*config), log, metrics, std::move(*setup));
  return daemon.Run();
}

}  // namespace uvm::daemon
