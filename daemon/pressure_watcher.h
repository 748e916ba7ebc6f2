// Guest memory pressure of every VM pod (issue 5), on the daemon's event loop: every interval, and at once
// for a pod whose PSI trigger fired, it reads the pod cgroup (CgroupPort), asks the Kata shim's monitor
// socket for the guest's view (GuestPort, asynchronous, with a deadline), feeds sizer::PressureModel, and
// publishes what the model says: metrics, one journal line per level change, the latest assessment for
// the API. Every pressure rule lives in the model; this class only moves observations and verdicts.
//
// Threading: everything runs on the io_context's thread (the daemon's loop); nothing here blocks longer
// than a few cgroup reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "sizer/pressure.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace uvm::metrics {
class DaemonMetrics;
}  // namespace uvm::metrics

namespace uvm::daemon {

// The guest side of a VM pod: the Kata shim's monitor endpoint. A port so that tests can fake it.
class GuestPort {
 public:
  using Done = std::function<void(Result<sizer::GuestObservation>)>;
  virtual ~GuestPort() = default;
  // Whether the sandbox has an endpoint at all (its socket exists); false: the host view alone.
  virtual bool HasEndpoint(const std::string& sandbox_id) = 0;
  // Human-readable location of the endpoint, for log lines.
  virtual std::string Describe(const std::string& sandbox_id) const = 0;
  // Asynchronous: `done` runs exactly once, later, on the watcher's io_context (never inside this call),
  // unless the io_context is stopped first.
  virtual void Fetch(const std::string& sandbox_id, Done done) = 0;
};

// The real guest port: guest/shim_monitor.h on `io`.
std::unique_ptr<GuestPort> MakeShimMonitorGuest(boost::asio::io_context& io, std::string sandboxes_dir,
                                                std::chrono::milliseconds timeout);

// One VM pod to watch (the daemon passes only pods with a sizing profile and a cgroup parent).
struct PressureTarget {
  SandboxSummary summary;
  std::string cgroup_parent;
  std::optional<int64_t> writable_layer_bytes;  // CRI ListContainerStats at the last full resync
};

struct PressureWatcherOptions {
  std::chrono::milliseconds interval{5000};
  sizer::PressureConfig model;
  std::optional<PressureTriggerSpec> trigger = PressureTriggerSpec{};  // nullopt: no PSI triggers
};

// What the watcher did, for tests, benchmarks and idle-wakeup measurements.
struct PressureWatcherStats {
  uint64_t ticks = 0;             // interval timer expiries
  uint64_t trigger_wakeups = 0;   // PSI trigger fd wakeups (fired or gone)
  uint64_t evaluations = 0;       // samples fed to the model
  uint64_t guest_fetches = 0;     // shim requests started
  uint64_t guest_errors = 0;      // shim requests that failed
  uint64_t triggers_dropped = 0;  // triggers whose cgroup went away
  // Time from a trigger's wakeup to its pod's metrics being updated (the last one), for the report.
  std::optional<std::chrono::nanoseconds> last_trigger_to_publish;
};

class PressureWatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // `on_level_change` runs (on the loop) after any pod's level changed, e.g. to republish the API view.
  // `now` stamps samples (injectable for tests; timers always use the real clock).
  PressureWatcher(boost::asio::io_context& io, PressureWatcherOptions options, CgroupPort& cgroups,
                  GuestPort& guest, metrics::DaemonMetrics& metrics, Logger& log,
                  std::function<void()> on_level_change = nullptr,
                  std::function<Clock::time_point()> now = nullptr);
  ~PressureWatcher();
  PressureWatcher(const PressureWatcher&) = delete;
  PressureWatcher& operator=(const PressureWatcher&) = delete;

  // The VM pods to watch, after every reconcile. New pods get a trigger and are evaluated at once; pods
  // no longer listed are forgotten (model window, triggers, latest assessment). Their metric series are
  // the reconciler's to remove (it removes every series of a pod that goes).
  void Update(const std::vector<PressureTarget>& pods);
  // SIGHUP: a changed interval or trigger applies at once; changed model tunables restart the windows.
  void Reconfigure(const PressureWatcherOptions& options);
  // Evaluates every pod now (the timer does this every interval).
  void EvaluateAll();
  // Cancels the timer and triggers; nothing is evaluated afterwards.
  void Stop();

  // The latest assessment of a sandbox; nullptr before its first evaluation.
  const sizer::PressureAssessment* Latest(const std::string& sandbox_id) const;
  const PressureWatcherStats& stats() const { return stats_; }
  size_t pod_count() const { return pods_.size(); }
  size_t trigger_count() const;

 private:
  struct Pod;
  struct Trigger;
  enum class Why { kTick, kTrigger, kNew };

  void ScheduleTick();
  void Evaluate(Pod& pod, Why why, std::optional<Clock::time_point> woke = std::nullopt);
  void Complete(const std::string& sandbox_id, uint64_t generation,
                std::optional<sizer::HostObservation> host, Result<sizer::GuestObservation> guest,
                bool fetched, std::optional<Clock::time_point> woke);
  void Publish(Pod& pod, const sizer::PressureSample& sample, const sizer::PressureAssessment& a);
  void ArmTrigger(Pod& pod);
  void WaitTrigger(const std::string& sandbox_id, uint64_t generation);
  void DropTrigger(Pod& pod);
  Clock::time_point Now() const;

  boost::asio::io_context& io_;
  PressureWatcherOptions options_;
  CgroupPort& cgroups_;
  GuestPort& guest_;
  metrics::DaemonMetrics& metrics_;
  Logger& log_;
  std::function<void()> on_level_change_;
  std::function<Clock::time_point()> now_;
  sizer::PressureModel model_;
  std::map<std::string, std::unique_ptr<Pod>> pods_;  // by sandbox id
  struct Timer;
  std::unique_ptr<Timer> timer_;
  uint64_t next_generation_ = 1;
  bool stopped_ = false;
  bool trigger_failure_logged_ = false;
  PressureWatcherStats stats_;
};

// "some 150000 2000000"-style text of a spec, for log lines.
std::string DescribeTrigger(const PressureTriggerSpec& spec);

}  // namespace uvm::daemon
