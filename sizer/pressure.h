// Guest memory pressure (issue 5): how fast a VM pod's memory is being eaten (files, logs, anonymous
// memory), how long until it runs out, and a level ok / warning / critical with hysteresis.
//
// PURE: no I/O, no clocks, no threads. The daemon passes every observation in, stamped with its own
// std::chrono time; the model never reads a file. Every pressure rule lives here (issue 5 acceptance).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::sizer {

using PressureClock = std::chrono::steady_clock;
using PressureTime = PressureClock::time_point;

// One guest filesystem, as the Kata agent reports it (kata_guest_filesystem_bytes{mount,device,item}).
struct GuestMountUsage {
  std::string mount;
  std::string device;
  int64_t used_bytes = 0;
  int64_t total_bytes = 0;
};

// The guest's own view, from the Kata shim's monitor endpoint (guest/shim_metrics.h maps it).
struct GuestObservation {
  int64_t mem_total_bytes = 0;         // MemTotal
  int64_t mem_available_bytes = 0;     // MemAvailable: what the guest can still hand out without OOM
  std::optional<int64_t> anon_bytes;   // AnonPages
  std::optional<int64_t> shmem_bytes;  // Shmem: tmpfs (incl. a writable layer kept in RAM) + shm
  std::optional<int64_t> file_bytes;   // Cached
  std::vector<GuestMountUsage> mounts;
  std::optional<uint64_t> oom_kills;  // /proc/vmstat oom_kill: a counter, resets when the VM restarts
  // Not pressure: the shim's own kata_shim_rpc_durations_histogram_milliseconds{action="create"} _sum (ms)
  // and _count, carried along for the daemon's startup profile (daemon/startup_profile.h).
  std::optional<double> shim_create_sum_ms;
  std::optional<double> shim_create_count;
};

// The host's view of the pod cgroup (memory.current / usage_in_bytes, memory.max / limit_in_bytes,
// memory.stat, memory.pressure, memory.events).
struct HostObservation {
  int64_t usage_bytes = 0;
  std::optional<int64_t> limit_bytes;  // nullopt (or <= 0): no limit, so no host-side prediction
  std::optional<int64_t> anon_bytes;
  // Page cache INCLUDING shmem/tmpfs: v2 memory.stat `file`, v1 `cache` both count shmem as page cache
  // [S: kernel Documentation/admin-guide/cgroup-v2.rst "file ... including tmpfs and shared memory";
  // cgroup-v1/memory.rst "cache - # of bytes of page cache memory"].
  std::optional<int64_t> file_bytes;
  std::optional<int64_t> shmem_bytes;
  std::optional<double> psi_full_avg10;  // percent, 0..100
  std::optional<uint64_t> oom_kills;     // memory.events oom_kill (v1: memory.oom_control oom_kill)
};

// From CRI ListContainerStats, summed over the pod's containers.
struct ContainerFsObservation {
  std::optional<int64_t> writable_layer_bytes;
  std::optional<int64_t> log_bytes;
};

struct PressureSample {
  PressureTime at;
  // A different sandbox id than the window's means the pod was recreated: the window starts over.
  std::string sandbox_id;
  std::optional<GuestObservation> guest;  // nullopt: no guest endpoint (or it failed this tick)
  std::optional<HostObservation> host;
  ContainerFsObservation containers;
};

enum class PressureLevel { kOk = 0, kWarning = 1, kCritical = 2 };
// What the prediction is based on: the guest's MemAvailable, or the pod cgroup's usage against its
// limit when there is no guest endpoint, or nothing (no endpoint and no limit).
enum class PressureBasis { kNone, kGuest, kHost };
// What ate the memory, from what grew. kFilesystem/kLogs carry a mount.
enum class PressureCauseKind {
  kNone,           // nothing grows
  kFilesystem,     // a guest filesystem kept in RAM (tmpfs, overlay on tmpfs) grows
  kLogs,           // log files grow (CRI log bytes, or a guest mount that matches log_mount_patterns)
  kWritableLayer,  // the containers' writable layers grow (CRI), kept in guest RAM on kata-cc
  kSharedMemory,   // shmem/tmpfs grows but no reported mount accounts for it
  kAnonymous,      // process heap (anonymous memory) grows
  kUnknown,        // memory shrinks but none of the tracked parts grows
};

std::string_view LevelName(PressureLevel level);      // "ok", "warning", "critical"
std::string_view BasisName(PressureBasis basis);      // "none", "guest", "host"
std::string_view CauseLabel(PressureCauseKind kind);  // "none", "filesystem", "logs", "writable_layer", ...

struct PressureConfig {
  // Rolling window the growth rate is fitted over. 5 min at the default 5 s tick = 60 samples: long
  // enough that one burst does not dominate, short enough that a new trend shows within a minute or two.
  std::chrono::seconds window{300};
  // The fit uses at most this many samples, evenly thinned (newest always kept): Theil–Sen is O(n²).
  int max_fit_points = 32;
  // No prediction until the window holds this many samples spanning at least min_span.
  int min_samples = 4;
  std::chrono::seconds min_span{20};
  // Slower decline than this is "not growing": no time left is predicted (4 KiB/s is 3.5 MiB in 15 min).
  double min_growth_bytes_per_second = 4096;
  // A slope counts only when it stands out of the noise: |slope| >= significance_z × its standard error
  // (from the median absolute deviation of the residuals). 3 makes pure noise pass ~0.3 % of the time.
  double significance_z = 3.0;

  // Level rules (issue 5 defaults). Time left, available fraction of capacity, memory PSI full avg10.
  std::chrono::seconds warning_time_left{15 * 60};
  double warning_available_fraction = 0.10;
  std::chrono::seconds critical_time_left{2 * 60};
  double critical_available_fraction = 0.03;
  // PSI "full" avg10 is the share of the last 10 s in which ALL non-idle tasks of the cgroup were stalled
  // on memory. 10 % (one second in ten with no progress at all) is already latency a user sees: warning.
  // 40 % is critical: it stays below the 60 % at which systemd-oomd kills a cgroup by default
  // [S: oomd.conf(5) DefaultMemoryPressureLimit=60%, DefaultMemoryPressureDurationSec=30s], so we speak
  // before an OOM killer acts.
  double warning_psi_full_avg10 = 10.0;
  double critical_psi_full_avg10 = 40.0;

  // Hysteresis: a level is entered at once, but left only when every rule of that level is clear by a
  // margin (time left above threshold × clear_factor, available fraction above threshold × clear_factor,
  // PSI below threshold / clear_factor) continuously for clear_hold. Stops flapping at a threshold.
  double clear_factor = 1.5;
  std::chrono::seconds clear_hold{30};

  // Available memory rising by more than this fraction of capacity between two samples (a file deleted,
  // an OOM kill freeing memory) starts a new window: the old trend no longer applies.
  double release_reset_fraction = 0.05;

  // A pod whose guest endpoint answered within guest_grace keeps the guest basis when a fetch fails:
  // its available memory is extrapolated along the fitted line instead of switching to the host view
  // for a tick, which would flap the prediction, the level and the cause.
  std::chrono::seconds guest_grace{30};

  // Guest mounts whose path contains one of these are logs, not plain files.
  std::vector<std::string> log_mount_patterns = {"/var/log"};

  bool operator==(const PressureConfig&) const = default;
};

// Checks ranges (fractions in (0,1), critical stricter than warning, positive windows, ...). The error
// names the field and its value, e.g. "pressure.critical_available_fraction 0.2 must be below
// pressure.warning_available_fraction 0.1".
Status ValidatePressureConfig(const PressureConfig& config);

struct PressureCause {
  PressureCauseKind kind = PressureCauseKind::kNone;
  std::string mount;  // kFilesystem, and kLogs from a mount; empty otherwise
  double bytes_per_second = 0;
};

// Growth of one tracked part (for uvm_sizer_pod_memory_growth_bytes_per_second{cause} and the guest
// filesystem metrics). Filesystem entries come one per mount: overlays on the same tmpfs report the same
// bytes, so a per-cause total takes the largest mount, never the sum (see GrowthByCause()).
struct GrowthRate {
  PressureCauseKind kind = PressureCauseKind::kNone;
  std::string mount;
  double bytes_per_second = 0;  // positive = growing
};

struct PressureAssessment {
  PressureLevel level = PressureLevel::kOk;
  PressureLevel previous_level = PressureLevel::kOk;
  bool level_changed = false;
  PressureBasis basis = PressureBasis::kNone;

  std::optional<int64_t> available_bytes;  // guest MemAvailable, or host limit - unreclaimable usage
  std::optional<int64_t> capacity_bytes;   // guest MemTotal, or host limit
  // Robust rate at which available memory shrinks (positive = shrinking); nullopt until the window
  // is long enough.
  std::optional<double> decline_bytes_per_second;
  // available / decline; nullopt when nothing grows (uvm_sizer_pod_memory_exhaustion_seconds absent).
  std::optional<double> seconds_left;
  std::optional<double> psi_full_avg10;

  PressureCause cause;
  std::vector<GrowthRate> growth;

  // New OOM kills since the previous sample of this pod (0 on its first sample; after a counter reset
  // the counter's new value, as Prometheus' increase() counts it).
  uint64_t guest_oom_kills_delta = 0;
  uint64_t host_oom_kills_delta = 0;

  // The guest endpoint missed this sample; guest values are extrapolated from the last one (guest_grace).
  bool guest_stale = false;

  bool window_reset = false;
  std::string reset_reason;  // "sandbox changed", "guest oom_kill counter went backwards", ...

  // Which rule holds the level, e.g. "memory runs out in ~90 s (< 2 min)"; empty at ok.
  std::string reason;
  // One line a person can act on, e.g. "logs under /var/log grow 4.8 MiB/s in the guest; memory runs
  // out in ~90 s; write logs to stdout or to an emptyDir on disk, or raise the memory limit". Empty at ok.
  std::string advice;

  // One rate per cause label present in `growth` (largest mount for filesystem/logs, never a sum).
  std::vector<GrowthRate> GrowthByCause() const;
};

// Per-pod state: the rolling window and the level's hysteresis. Cheap to move.
class PodPressure {
 public:
  PodPressure() = default;

  // Adds a sample and evaluates. Samples must come in time order: one not after the previous sample is
  // ignored for the fit (the assessment is still computed from the window and the instantaneous values).
  PressureAssessment Observe(const PressureSample& sample, const PressureConfig& config,
                             std::vector<double>& scratch);

  PressureLevel level() const { return level_; }
  size_t window_size() const { return times_.size(); }

 private:
  struct Series {
    std::vector<double> values;  // parallel to times_; NaN where the sample lacked this part
  };
  void Reset();
  void Append(const PressureSample& sample, double t);
  void Trim(double now, const PressureConfig& config);
  struct Fit {
    double slope = 0;      // 0 when not significant
    double intercept = 0;  // at time 0 of times_
    double sigma = 0;      // robust residual scale
  };
  std::optional<Fit> FitSeries(const Series& s, const PressureConfig& config,
                               std::vector<double>& scratch) const;

  std::string sandbox_id_;
  std::optional<PressureTime> origin_;  // time 0 of times_
  std::optional<uint64_t> guest_oom_;
  std::optional<uint64_t> host_oom_;
  std::optional<int64_t> guest_total_;
  std::optional<PressureTime> last_guest_at_;
  int64_t last_guest_available_ = 0;
  std::vector<double> times_;  // seconds since origin_
  // Log bytes drop at rotation; like a Prometheus counter reset, the series then continues from the last
  // value before the drop, so it reads as bytes written (bytes written between that sample and the
  // rotation are not seen).
  double log_offset_ = 0;
  std::optional<int64_t> last_log_raw_;
  Series guest_available_, host_used_, guest_anon_, guest_shmem_, host_anon_, host_shmem_, writable_, logs_;
  std::map<std::string, Series, std::less<>> mounts_;
  // The last fit of the primary series (available memory as "used" grows), to tell a release of
  // memory from noise.
  std::optional<Fit> primary_fit_;
  PressureLevel level_ = PressureLevel::kOk;
  std::optional<PressureTime> clear_since_;
  bool seen_ = false;
};

// All pods the daemon knows, keyed by a stable pod key (e.g. the pod uid). Owns the fit's scratch
// buffer so a tick allocates nothing once warm. Not thread-safe: one owner (the daemon's loop).
class PressureModel {
 public:
  explicit PressureModel(PressureConfig config = {});

  PressureAssessment Observe(std::string_view pod_key, const PressureSample& sample);
  void Forget(std::string_view pod_key);
  // Drops every pod not in `keep` (the daemon calls it after a resync).
  void Retain(std::span<const std::string> keep);
  size_t pod_count() const { return pods_.size(); }
  const PressureConfig& config() const { return config_; }
  const PodPressure* Find(std::string_view pod_key) const;

 private:
  PressureConfig config_;
  std::map<std::string, PodPressure, std::less<>> pods_;
  std::vector<double> scratch_;
};

// Theil–Sen slope (the median of the slopes of all sample pairs) of (t, v), skipping NaN values and
// pairs with equal t. nullopt with fewer than two usable points. `scratch` is reused between calls.
std::optional<double> TheilSenSlope(std::span<const double> t, std::span<const double> v,
                                    std::vector<double>& scratch);

// "4.8 MiB/s", "512 B/s", "1.2 GiB/s".
std::string FormatByteRate(double bytes_per_second);
// "~90 s", "~12 min", "~3.5 h".
std::string FormatDuration(double seconds);

}  // namespace uvm::sizer
