// The daemon's core, on its event loop: it owns the pod table (daemon/pod_table.h) and runs every per-pod
// step on it. Discovery and sizing apply the runtime's snapshots (fetched elsewhere, on a worker);
// observation reads each VM pod's cgroup once per tick and feeds that one reading to enforcement and to the
// pressure model (with the guest's own view, fetched asynchronously); the Exporter turns the records into
// metric series. Stateless across restarts: everything is rebuilt from the runtime and the cgroup tree, and
// writes are raise-only and idempotent, so a restart writes nothing twice.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/capacity.h"
#include "daemon/config.h"
#include "daemon/exporter.h"
#include "daemon/log.h"
#include "daemon/pod_table.h"
#include "daemon/ports.h"
#include "sizer/overhead.h"
#include "sizer/pressure.h"
#include "sizer/profile.h"

namespace uvm::metrics {
class DaemonMetrics;
}

namespace uvm::daemon {

// What the runtime worker brings back to the loop.
struct RuntimeSnapshot {
  std::optional<Error> error;  // the runtime could not be listed (down, timeout)
  std::vector<SandboxSummary> sandboxes;
  std::map<std::string, Result<SandboxDetail>> details;  // for the sandboxes that needed inspection
  // Full resyncs only: Σ writable-layer bytes per VM sandbox (a CRI source of file growth).
  std::map<std::string, std::optional<int64_t>> writable_layer_bytes;
  // The startup profile: per asked sandbox, its first container's started_at (Unix ns; nullopt: none
  // started yet). Empty when nothing was asked or the call failed (container_starts_error).
  std::map<std::string, std::optional<int64_t>> first_container_started_ns;
  std::optional<Error> container_starts_error;
};

// Which sandboxes the startup profile still asks about: those created since `watch_since_ns` (the daemon's
// start, Unix ns) that the table has not settled. `enabled` false: none.
struct StartQuery {
  bool enabled = false;
  int64_t watch_since_ns = 0;
  std::set<std::string> settled;
};

// Runs on the runtime worker: lists sandboxes, inspects those not in `inspected` (all when `full`), and
// fetches container limits for handlers in `dynamic_handlers`.
// With `vm_handlers`, a full fetch also asks the writable-layer bytes of those handlers' sandboxes. With
// `start`, the first container starts of the ready sandboxes it still asks about (at most one
// ListContainers, and ContainerStatus for their started containers only).
RuntimeSnapshot FetchRuntime(RuntimePort& runtime, const std::set<std::string>& inspected, bool full,
                             const std::set<std::string>& dynamic_handlers,
                             const std::set<std::string>& vm_handlers = {}, const StartQuery& start = {});

struct ReconcileSetup {
  sizer::ProfileCatalog catalog = sizer::ProfileCatalog::Builtin();
  sizer::HostOverheadModel host;
  CgroupMode mode = CgroupMode::kObserve;
  // Pods that are not VM-isolated are read this often (their usage series); VM pods at every tick.
  std::chrono::milliseconds cgroup_read_interval{10000};
  sizer::PressureConfig pressure;
  // The node's CPUs, for Kata's checks of the default_vcpus / default_max_vcpus annotations (0: unknown).
  uint32_t host_cpus = 0;
  // The node ledger's allocatable and shapes (daemon/capacity.h), read with the configuration.
  NodeCapacity capacity;
};

// What the core did, for tests, benchmarks and the idle-wakeup measurements.
struct CoreStats {
  uint64_t ticks = 0;          // Tick() calls
  uint64_t cgroup_reads = 0;   // ReadPod calls
  uint64_t evaluations = 0;    // samples fed to the pressure model
  uint64_t guest_fetches = 0;  // shim requests started
  uint64_t guest_errors = 0;   // shim requests that failed
  uint64_t trigger_observations = 0;
  // Time from a PSI trigger's wakeup to its pod's metrics being updated (the last one).
  std::optional<std::chrono::nanoseconds> last_trigger_to_publish;
};

class Reconciler {
 public:
  using Clock = std::chrono::steady_clock;

  // `on_level_change` runs (on the loop) after an observation changed a pod's pressure level, e.g. to
  // republish the API view at once. `now` stamps samples and read times (injectable for tests);
  // `wall_now_ns` is the Unix time in ns, which CRI timestamps are compared with: its value at
  // construction is when the startup profile begins to watch (daemon/startup_profile.h).
  Reconciler(ReconcileSetup setup, CgroupPort& cgroups, GuestPort& guest, metrics::DaemonMetrics& metrics,
             Logger& log, std::function<void()> on_level_change = nullptr,
             std::function<Clock::time_point()> now = nullptr,
             std::function<int64_t()> wall_now_ns = nullptr);

  // Applies a snapshot: new pods are sized and observed at once, gone pods removed (series and all).
  void Apply(const RuntimeSnapshot& snapshot);
  // One pass: every watched (VM) pod's cgroup is read once, enforced in enforce mode, and fed with the
  // guest's view to the pressure model.
  void Tick();
  // Pods that are not VM-isolated: reads the cgroups whose read_interval has passed.
  void ReadUsage();
  // A PSI trigger fired for this sandbox: observe it now.
  void ObserveNow(const std::string& sandbox_id, std::optional<Clock::time_point> woke = std::nullopt);
  // SIGHUP: new profiles, handlers, overhead model, mode or pressure tunables apply to every pod at once:
  // a pod that stops being VM-isolated loses its UVM, overhead and pressure series here.
  void Reconfigure(ReconcileSetup setup);
  // SIGHUP changed how the cgroups or the guests are reached: later calls use these ports (kept cgroup
  // handles of the old port go with it; answers in flight still arrive).
  void SetPorts(CgroupPort& cgroups, GuestPort& guest);

  std::set<std::string> InspectedIds() const;
  // What FetchRuntime should ask for the startup profile.
  StartQuery StartQueryNow() const;
  int64_t watch_since_ns() const { return watch_since_ns_; }
  std::set<std::string> DynamicHandlers() const;
  std::set<std::string> VmHandlers() const;
  const PodTable& table() const { return table_; }
  const PodState* Find(const std::string& sandbox_id) const { return table_.Find(sandbox_id); }
  const ReconcileSetup& setup() const { return setup_; }
  bool HasWatched() const;
  bool HasUnwatchedWithCgroup() const;
  // Changes whenever a pod's published state may have: the daemon rebuilds the API view only then.
  uint64_t generation() const { return generation_; }
  // The node ledger over the table's pods (sizer/capacity.h), rebuilt (and its series published) at the end
  // of a step that changed a pod's record: at once when a pod comes or goes (Apply), and at every tick,
  // which also counts the guest answers that arrived since the last one. Not at each guest answer: with
  // 250 VM pods that would rebuild it 250 times a tick.
  const sizer::NodeLedger& ledger() const { return ledger_; }
  const CoreStats& stats() const { return stats_; }

 private:
  void Size(PodState& pod);
  void LogSized(const PodState& pod, const sizer::Profile& profile) const;
  bool Read(PodState& pod);
  void Enforce(PodState& pod);
  void Observe(PodState& pod, std::optional<Clock::time_point> woke);
  void Complete(const std::string& sandbox_id, uint64_t generation,
                std::optional<sizer::HostObservation> host,
                std::optional<Result<sizer::GuestObservation>> guest, std::optional<Clock::time_point> woke);
  void Journal(const PodState& pod, const sizer::PressureAssessment& a);
  void ProfileStart(PodState& pod, const RuntimeSnapshot& snap);
  void ProfileShimCreate(PodState& pod, const sizer::GuestObservation& guest);
  void StopWatching(PodState& pod);
  void Forget(const std::string& id);
  void Flush();
  void RebuildLedger();
  void RebuildLedgerIfChanged();
  Clock::time_point Now() const;
  int64_t WallNowNs() const;

  ReconcileSetup setup_;
  CgroupPort* cgroups_;
  GuestPort* guest_;
  metrics::DaemonMetrics& metrics_;
  Logger& log_;
  std::function<void()> on_level_change_;
  std::function<Clock::time_point()> now_;
  std::function<int64_t()> wall_now_ns_;
  int64_t watch_since_ns_ = 0;
  PodTable table_;
  Exporter exporter_;
  sizer::NodeLedger ledger_;
  bool ledger_stale_ = false;    // a pod's record changed since the ledger was built
  std::vector<double> scratch_;  // the pressure fit's buffer, shared by every pod
  uint64_t next_generation_ = 1;
  uint64_t generation_ = 0;
  CoreStats stats_;
};

}  // namespace uvm::daemon
