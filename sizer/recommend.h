// podFixed from measurement (issue 10, CAPACITY.md §5.1 item 4): per runtime handler and UVM size bucket,
// the RuntimeClass overhead.podFixed.memory that covers what was measured, VPA-style. Pure: the CLI feeds it
// samples from the daemon's API (`runtimeclass --from-node`) or from Prometheus (`--from-prometheus`).
//
//   podFixed = base + p95(measured host overhead) + margin, rounded up to a MiB
//
// - base: the part of the UVM the pod's limits do not cover, the profile's base_memory_mib (the UVM's own
//   OS), as the model's podFixed counts it (`uvm-sizer runtimeclass` without measurements);
// - measured host overhead: what the VMM, shim and virtiofsd take on the host beyond the guest's memory in
//   use (pod cgroup usage − guest memory in use), one value per sample;
// - p95: nearest rank (the smallest sample with at least 95 % of the samples at or below it: rank
//   ⌈0.95·n⌉ of the n sorted samples), so the result is always a value that was measured;
// - margin: 15 % of the p95, the VPA recommender's default `recommendation-margin-fraction` ("Fraction of
//   usage added as the safety margin to the recommended request": kubernetes/autoscaler
//   vertical-pod-autoscaler/pkg/recommender/logic/recommender.go, safetyMarginFraction; docs/flags.md). The
//   margin goes on the measured part only: the base is a configured number, not an estimate.
//
// Buckets: a UVM of m MiB falls in the bucket of the smallest power-of-two GiB ≥ m (≤1Gi, ≤2Gi, ≤4Gi, …):
// the VMM's overhead grows with guest RAM (page tables, kata-containers#13173), so pods of very different
// sizes are not pooled. A RuntimeClass holds one podFixed for every pod of the class, so the handler's
// recommendation is the bucket needing the most (normally the largest bucket with samples), unless a UVM
// size is chosen: then the bucket holding it. A bucket without samples falls back to the model at the
// bucket's upper bound (or at the chosen size), and says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sizer/overhead.h"
#include "sizer/profile.h"

namespace uvm::sizer {

// One measurement of one VM pod. `host_overhead_bytes` is a double because Prometheus gives floats (and may
// give NaN or ±Inf): the recommender refuses what is not a plausible byte count.
struct OverheadSample {
  std::string handler;
  double uvm_memory_mib = 0;
  double host_overhead_bytes = 0;
  std::string pod_uid;  // samples with the same uid count as one pod; empty: the sample is a pod of its own
  std::string pod;      // namespace/name, for the notes about a refused sample
};

struct RecommendOptions {
  double percentile = 0.95;
  double margin_fraction = 0.15;  // VPA's recommendation-margin-fraction default
  // Fewer pods than this in the binding bucket gets a low-confidence note (VPA scales its bounds by the
  // days of history; without a history the number of distinct pods is what we have).
  size_t confident_pods = 3;
  // Size the handler's podFixed for this UVM (its bucket binds); nullopt: the bucket needing the most.
  std::optional<uint32_t> uvm_memory_mib;
};

// A handler to recommend for, with the profile its pods were sized with.
struct HandlerProfile {
  std::string handler;
  Profile profile;
};

struct BucketRecommendation {
  uint32_t max_uvm_mib = 0;  // the bucket holds UVMs up to this size (above half of it)
  bool measured = false;     // false: no samples, the model's number
  size_t samples = 0;
  size_t pods = 0;
  uint32_t smallest_uvm_mib = 0, largest_uvm_mib = 0;  // of the samples
  int64_t p95_bytes = 0;
  int64_t margin_bytes = 0;
  int64_t model_host_overhead_bytes = 0;  // the model at `model_uvm_mib`, for comparison or as fallback
  uint32_t model_uvm_mib = 0;
  int64_t base_mib = 0;
  int64_t pod_fixed_mib = 0;  // base + ⌈(p95 + margin) / MiB⌉, or base + ⌈model / MiB⌉ when not measured
};

struct HandlerRecommendation {
  std::string handler;
  std::string profile;
  std::vector<BucketRecommendation> buckets;  // the measured buckets by size, plus a fallback if one binds
  size_t binding = 0;                         // index into buckets of the one the RuntimeClass takes
  int64_t pod_fixed_mib = 0;                  // buckets[binding].pod_fixed_mib
  std::vector<std::string> notes;             // fallback, low confidence, which bucket binds and why
};

struct PodFixedRecommendation {
  std::vector<HandlerRecommendation> handlers;  // in the order asked
  size_t samples_used = 0;
  std::vector<std::string> notes;  // samples refused (bad values), or of handlers not asked about
};

// The upper bound of the bucket of a UVM of `uvm_memory_mib` (1024 · the smallest power of two ≥ m/1024).
uint32_t BucketMaxMib(uint32_t uvm_memory_mib);

// "UVM <= 4Gi": how the notes and the CLI name a bucket.
std::string BucketName(uint32_t max_uvm_mib);

// Nearest-rank percentile of `values` (p in (0, 1]); nullopt when empty.
std::optional<double> NearestRankPercentile(std::vector<double> values, double p);

// The UVM size the model's podFixed is computed for when none is chosen: the profile base + the
// no-limit default or 8 GiB of workload memory, whichever is larger (`uvm-sizer runtimeclass`).
uint32_t DefaultPodFixedUvmMib(const Profile& profile);

PodFixedRecommendation RecommendPodFixed(const std::vector<OverheadSample>& samples,
                                         const std::vector<HandlerProfile>& handlers,
                                         const HostOverheadModel& model,
                                         const RecommendOptions& options = {});

}  // namespace uvm::sizer
