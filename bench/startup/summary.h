// summary.json of a result directory (STARTUP.md §6.4–6.5): the pods grouped into cells (handler × mode ×
// level or rate × memory point × cpu point), their quantiles, failures, throughput and SLO share, the
// per-handler fit of startup against the predicted UVM size, the environment, and the containerd
// cross-check. Pure: Summarize() only computes, SummaryToJson() only formats (fixed key order, fixed
// rounding), so `report DIR` reproduces the bytes the run wrote.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/startup/record.h"
#include "bench/startup/stats.h"

namespace uvm::startup {

// The latencies summarized: the phases (PhaseName), then the teardown calls and the whole start.
// "total" is what the SLO share and the throughput are about.
std::vector<std::string> MetricNames();
// The duration of `metric` for the pod (nanoseconds), nullopt when it was not reached or is unknown.
std::optional<int64_t> MetricNs(const PodRecord& pod, std::string_view metric);
bool IsMetricName(std::string_view metric);

inline constexpr int kP99MinSamples = 100;             // below it p99 is one of the largest few samples: n/a
inline constexpr int64_t kSloTotalNs = 5'000'000'000;  // the share of pods started within 5 s
inline constexpr double kUnaccountedLimit = 0.02;      // |total − Σ phases| above 2 % of total is flagged

struct CellKey {
  std::string handler;
  std::string mode;
  int level = 0;
  double rate = 0;
  std::string mem_limit;
  std::string cpu_limit;
  bool operator==(const CellKey&) const = default;
};
// "runc burst c=4 mem=256Mi cpu=1" (open mode: "rate=2/s").
std::string CellLabel(const CellKey& key);

struct LatencyStats {
  int n = 0;  // pods of the cell that reached the metric (of the completed ones)
  std::optional<double> p50_ms, p90_ms, p95_ms, p99_ms;  // p99 only when n >= kP99MinSamples
  double max_ms = 0, mean_ms = 0, sd_ms = 0, cov = 0;
  std::optional<stats::Interval> p50_ci_ms;  // bootstrap 95 %
};
LatencyStats ComputeLatency(const std::vector<double>& values_ms);

struct RatioToReference {
  std::string reference_handler;
  double p50_ratio = 0;
  std::optional<stats::Interval> ci;  // bootstrap 95 %
};

struct Cell {
  CellKey key;
  std::string runtime_type;
  bool stand_in = false;
  PredictedUvm predicted_uvm;  // of the cell's first pod (one resource point: one prediction)
  int n = 0;                   // pods counted (warm-up excluded)
  int completed = 0;
  int failed = 0;
  std::map<std::string, int> failures_by_code;
  int warmup_excluded = 0;
  std::map<std::string, LatencyStats> latency;  // by metric name; only metrics some completed pod reached
  std::optional<double> throughput_pods_per_s;  // completed / Σ over bursts of (last end − first start)
  double share_total_within_5s = 0;             // of the n pods; a failed pod is not within
  int unaccounted_over_limit = 0;
  // The memory budget's share: pods it held back before their first call, and the most pods of the cell
  // that were ever in flight together. A cell whose max_in_flight stayed below its level did not run at
  // that concurrency: its latencies are not comparable with another handler's cell of the same level.
  int held_by_budget = 0;
  int max_in_flight = 0;
  std::optional<RatioToReference> total_vs_reference;  // the same cell of the non-VM handler (runc)
  std::vector<double> total_ms;                        // the completed pods' totals, ascending (not in JSON)
};

// startup = a + b × x for one handler, over its completed, counted pods.
struct SizeFit {
  std::string handler;
  std::string metric;  // "run_sandbox" or "total"
  std::string x;       // "uvm_gib" or "vcpus"
  int n = 0;
  std::optional<stats::LinearFit> fit;  // ms and ms per x unit
  std::string note;                     // why there is no fit
};

// The tier-1 split of real Kata pods (medians over the handler's pods that have the field).
struct KataSplit {
  std::string handler;
  int pods = 0;
  std::optional<double> containerd_side_ms;  // run_sandbox − shim_create
  std::optional<double> shim_create_ms;
  std::optional<double> agent_create_sandbox_ms;
  std::optional<double> mem_ramp_t90_ms;
  int observed_uvm_mismatches = 0;  // observed vCPUs or MiB differ from the prediction
  int observed_uvm_pods = 0;
};

struct CrossCheckResult {
  double client_run_sandbox_s = 0;  // Σ over every pod (warm-up included: containerd counted it too)
  int client_sandboxes = 0;
  std::optional<double> containerd_delta_s;
  std::optional<double> containerd_count_delta;
  std::optional<double> ratio;  // containerd delta / client sum: ≤ 1 and close to it (STARTUP.md §2.6)
  std::optional<bool> within_10_percent;
  std::string note;
};

struct Summary {
  RunInfo info;
  int pods = 0;
  int warmup_excluded = 0;
  int completed = 0;
  int failed = 0;
  std::string reference_handler;  // "" when no handler is without a UVM
  std::vector<Cell> cells;
  std::vector<SizeFit> fits;
  std::vector<KataSplit> kata;
  CrossCheckResult containerd;
};

Summary Summarize(const RunInfo& info, const std::vector<PodRecord>& pods);
std::string SummaryToJson(const Summary& summary);

// Rounds for output: `digits` decimals (ms get 3: 1 µs).
double Rounded(double value, int digits);

}  // namespace uvm::startup
