// The daemon's one table of pods: one record per sandbox, holding everything the daemon knows of it:
// discovery, sizing, enforcement, the latest cgroup reading and the pressure assessment. Reconcile,
// enforcement, the pressure model, metrics and the API view all read and write these records; nothing
// else keeps per-pod state (I/O handles such as kept cgroup fds and PSI trigger fds live with their ports).
//
// Pure: no I/O, no clock reads. Owned by the Reconciler, on the event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/ports.h"
#include "sizer/overhead.h"
#include "sizer/pressure.h"

namespace uvm::daemon {

enum class PodPhase { kDiscovered, kSized, kApplied, kGone };
const char* PhaseName(PodPhase phase);

struct PodState {
  using Clock = std::chrono::steady_clock;

  // Discovery (CRI).
  SandboxDetail detail;
  bool inspected = false;
  PodPhase phase = PodPhase::kDiscovered;
  std::optional<int64_t> writable_layer_bytes;  // CRI ListContainerStats at the last full resync
  // Bumped whenever the sandbox is (re)inspected or its pressure window restarts: an asynchronous answer
  // started under an older generation is dropped.
  uint64_t generation = 0;

  // Sizing: nullopt profile = not VM-isolated, never written, never watched.
  std::optional<std::string> profile;
  sizer::SandboxSizing sizing;
  // The profile's sandbox_cgroup_only after the pod's own annotation (decided when sized).
  bool sandbox_cgroup_only = true;
  std::vector<std::string> notes;

  // The latest cgroup reading (one per tick; a write updates only the value written).
  std::optional<CgroupReading> cgroup;
  Clock::time_point cgroup_read_at{};
  // The VMM's host overhead as measured: pod cgroup usage - guest memory in use (MemTotal - MemAvailable of
  // the guest, from the shim's metrics), from the latest reading of both; nullopt where the shim reports no
  // guest memory. Feeds the ledger (the larger of it and the model) and the podFixed recommendation.
  std::optional<int64_t> host_overhead_measured_bytes;

  // Enforcement.
  uint64_t cgroup_writes = 0;
  // The bound set on /kata_overhead/<id> (sandbox_cgroup_only=false profiles); raised when the need grows.
  std::optional<int64_t> overhead_bound_bytes;
  std::optional<std::string> last_error;

  // Guest memory pressure (watched pods only).
  sizer::PodPressure pressure_window;
  std::optional<sizer::PressureAssessment> pressure;
  std::vector<sizer::GuestMountUsage> last_mounts;  // shown while the guest view is extrapolated
  uint64_t oom_kills_total = 0;
  std::optional<bool> had_guest_endpoint;
  bool guest_in_flight = false;  // one guest fetch at a time keeps samples in order
  bool observe_again = false;    // a trigger fired meanwhile: observe once more when it completes
  std::optional<Clock::time_point> again_woke;

  // Startup profile (daemon/startup_profile.h): set once the sandbox's start was observed or will never
  // be (skipped, or created before the daemon watched), so it is observed at most once and its containers
  // are no longer asked about. The shim's create (Kata runtime types only) is settled on its own.
  bool start_settled = false;
  std::optional<double> start_seconds;  // the value observed, for logs and the API
  bool shim_create_settled = false;

  bool vm_isolated() const { return profile.has_value(); }
  // VM pods the daemon reads every tick and feeds to the pressure model.
  bool watched() const { return vm_isolated() && inspected && !detail.cgroup_parent.empty(); }
  const SandboxSummary& summary() const { return detail.summary; }
};

class PodTable {
 public:
  // The record of a sandbox, created (from `summary`) when new. `inserted` tells which.
  PodState& Upsert(const SandboxSummary& summary, bool* inserted = nullptr);
  PodState* Find(const std::string& sandbox_id);
  const PodState* Find(const std::string& sandbox_id) const;
  // Removes the record; returns the uid it had ("" when unknown).
  std::string Erase(const std::string& sandbox_id);

  // Per-pod series and the pressure model are per pod (uid); a pod briefly has two sandboxes while one is
  // recreated. The rule, written once: the sandbox of the uid created last wins (by CRI created_at, then
  // by id), since the old one is about to go.
  const PodState* Exported(const std::string& uid) const;
  PodState* Exported(const std::string& uid);
  bool IsExported(const PodState& pod) const;

  const std::map<std::string, PodState>& by_sandbox() const { return by_sandbox_; }
  std::map<std::string, PodState>& by_sandbox() { return by_sandbox_; }
  size_t size() const { return by_sandbox_.size(); }

 private:
  std::map<std::string, PodState> by_sandbox_;
  std::map<std::string, std::set<std::string>> sandboxes_by_uid_;
};

}  // namespace uvm::daemon
