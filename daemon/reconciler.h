// The per-pod state machine (discovered -> sized -> applied -> gone). It runs on the event-loop thread
// and owns all pod state; runtime calls happen elsewhere (FetchRuntime, on a worker) and their results
// are applied here. Stateless across restarts: everything is rebuilt from the runtime and the cgroup
// tree, and writes are raise-only and idempotent, so a restart writes nothing twice.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "sizer/overhead.h"
#include "sizer/profile.h"

namespace uvm::metrics {
class DaemonMetrics;
}

namespace uvm::daemon {

enum class PodPhase { kDiscovered, kSized, kApplied, kGone };
const char* PhaseName(PodPhase phase);

struct PodRecord {
  SandboxDetail detail;
  bool inspected = false;
  PodPhase phase = PodPhase::kDiscovered;
  std::optional<std::string> profile;  // nullopt: not VM-isolated, never touched
  sizer::SandboxSizing sizing;
  CgroupReading cgroup;
  uint64_t cgroup_writes = 0;
  std::optional<std::string> last_error;
  std::vector<std::string> notes;
  std::optional<int64_t> writable_layer_bytes;  // from the last full resync
  std::chrono::steady_clock::time_point last_cgroup_read{};
  bool overhead_bounded = false;  // /kata_overhead/<id> limited (sandbox_cgroup_only=false profiles)
};

// What the runtime worker brings back to the loop.
struct RuntimeSnapshot {
  std::optional<std::string> error;  // the runtime could not be listed (down, timeout)
  std::vector<SandboxSummary> sandboxes;
  std::map<std::string, Result<SandboxDetail>> details;  // for the sandboxes that needed inspection
  // Full resyncs only: Σ writable-layer bytes per VM sandbox (issue 5's CRI source of file growth).
  std::map<std::string, std::optional<int64_t>> writable_layer_bytes;
};

// Runs on the runtime worker: lists sandboxes, inspects those not in `inspected` (all when `full`), and
// fetches container limits for handlers in `dynamic_handlers`.
// With `vm_handlers`, a full fetch also asks the writable-layer bytes of those handlers' sandboxes.
RuntimeSnapshot FetchRuntime(RuntimePort& runtime, const std::set<std::string>& inspected, bool full,
                             const std::set<std::string>& dynamic_handlers,
                             const std::set<std::string>& vm_handlers = {});

struct ReconcileSetup {
  sizer::ProfileCatalog catalog = sizer::ProfileCatalog::Builtin();
  sizer::HostOverheadModel host;
  CgroupMode mode = CgroupMode::kObserve;
  // A known pod's cgroup is read (and, in enforce mode, checked) at most this often; new and re-inspected
  // pods at once. 0: at every Apply.
  std::chrono::milliseconds cgroup_read_interval{0};
};

class Reconciler {
 public:
  Reconciler(ReconcileSetup setup, CgroupPort& cgroups, metrics::DaemonMetrics& metrics, Logger& log);

  // Applies a snapshot: new pods are sized, gone pods removed (series and all), every VM pod's cgroup is
  // read and, in enforce mode, raised where the kubelet's limit is below what the UVM needs.
  void Apply(const RuntimeSnapshot& snapshot);
  // SIGHUP: new profiles, overhead model or mode; every pod is sized again at the next Apply.
  void Reconfigure(ReconcileSetup setup);

  std::set<std::string> InspectedIds() const;
  std::set<std::string> DynamicHandlers() const;
  std::set<std::string> VmHandlers() const;
  const std::map<std::string, PodRecord>& pods() const { return pods_; }
  const ReconcileSetup& setup() const { return setup_; }
  // Changes whenever a pod's published state may have (sized, read, written, gone): the daemon rebuilds
  // the API view only then.
  uint64_t generation() const { return generation_; }

 private:
  void Size(PodRecord& pod);
  void ReadAndEnforce(PodRecord& pod);
  void Publish(const PodRecord& pod);
  void Forget(const std::string& id);

  ReconcileSetup setup_;
  CgroupPort& cgroups_;
  metrics::DaemonMetrics& metrics_;
  Logger& log_;
  std::map<std::string, PodRecord> pods_;  // by sandbox id
  uint64_t generation_ = 0;
};

}  // namespace uvm::daemon
