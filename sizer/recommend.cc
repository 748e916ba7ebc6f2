#include "sizer/recommend.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

namespace uvm::sizer {
namespace {

constexpr int64_t kMib = 1 << 20;
constexpr uint32_t kDefaultWorkloadMib = 8192;
// Plausibility bounds of a sample. A VMM's host overhead of 1 TiB or a UVM of 16 TiB is no measurement
// but a broken exporter (or a Prometheus answering with garbage); refusing them also keeps the arithmetic
// far from int64's range.
constexpr double kMaxOverheadBytes = static_cast<double>(int64_t{1} << 40);
constexpr double kMaxUvmMib = static_cast<double>(uint32_t{1} << 24);

int64_t CeilMib(int64_t bytes) {
  return (bytes + kMib - 1) / kMib;
}

std::string Who(const OverheadSample& s) {
  if (!s.pod.empty()) return s.pod;
  if (!s.pod_uid.empty()) return "uid " + s.pod_uid;
  return "a sample";
}

// Why a sample cannot be used, or nullopt.
std::optional<std::string> Refusal(const OverheadSample& s) {
  if (!std::isfinite(s.host_overhead_bytes))
    return fmt::format("host overhead {} is not a number of bytes", s.host_overhead_bytes);
  if (s.host_overhead_bytes < 0)
    return fmt::format(
        "host overhead {:.0f} bytes is negative (guest memory in use above the pod cgroup's usage: the "
        "VMM is not charged to the pod cgroup, or the two were read at different times)",
        s.host_overhead_bytes);
  if (s.host_overhead_bytes > kMaxOverheadBytes)
    return fmt::format("host overhead {:.0f} bytes is beyond 1 TiB, not a plausible measurement",
                       s.host_overhead_bytes);
  if (!std::isfinite(s.uvm_memory_mib) || s.uvm_memory_mib < 1 || s.uvm_memory_mib > kMaxUvmMib)
    return fmt::format("UVM memory {} MiB is not a plausible VM size", s.uvm_memory_mib);
  return std::nullopt;
}

struct Bucketed {
  std::vector<double> overheads;
  std::set<std::string> uids;
  size_t pods_without_uid = 0;
  uint32_t smallest = UINT32_MAX, largest = 0;
};

}  // namespace

std::string BucketName(uint32_t max_uvm_mib) {
  return fmt::format("UVM <= {}Gi", max_uvm_mib / 1024);
}

uint32_t BucketMaxMib(uint32_t uvm_memory_mib) {
  uint32_t gib = 1;
  while (static_cast<uint64_t>(gib) * 1024 < uvm_memory_mib) gib *= 2;
  return gib * 1024;
}

std::optional<double> NearestRankPercentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  // Rank ⌈p·n⌉, 1-based; the small epsilon keeps 0.95·20 = 19 from becoming 19.000000000000004 → 20.
  double exact = p * static_cast<double>(values.size());
  auto rank = static_cast<size_t>(std::ceil(exact - 1e-9));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

uint32_t DefaultPodFixedUvmMib(const Profile& profile) {
  return profile.base_memory_mib + std::max(profile.default_workload_mem_mib, kDefaultWorkloadMib);
}

PodFixedRecommendation RecommendPodFixed(const std::vector<OverheadSample>& samples,
                                         const std::vector<HandlerProfile>& handlers,
                                         const HostOverheadModel& model, const RecommendOptions& options) {
  PodFixedRecommendation out;
  std::map<std::string, std::map<uint32_t, Bucketed>> by_handler;
  std::set<std::string> asked;
  for (const auto& h : handlers) asked.insert(h.handler);
  std::map<std::string, size_t> other_handlers;
  for (const auto& s : samples) {
    if (!asked.contains(s.handler)) {
      ++other_handlers[s.handler];
      continue;
    }
    if (auto why = Refusal(s)) {
      out.notes.push_back(fmt::format("sample of {} (handler {}) skipped: {}", Who(s), s.handler, *why));
      continue;
    }
    auto uvm_mib = static_cast<uint32_t>(std::ceil(s.uvm_memory_mib));
    Bucketed& b = by_handler[s.handler][BucketMaxMib(uvm_mib)];
    b.overheads.push_back(s.host_overhead_bytes);
    if (s.pod_uid.empty()) {
      ++b.pods_without_uid;
    } else {
      b.uids.insert(s.pod_uid);
    }
    b.smallest = std::min(b.smallest, uvm_mib);
    b.largest = std::max(b.largest, uvm_mib);
    ++out.samples_used;
  }
  for (const auto& [handler, n] : other_handlers) {
    out.notes.push_back(fmt::format("{} sample(s) of handler \"{}\" ignored: not the handler asked for", n,
                                    handler.empty() ? "(none)" : handler));
  }

  for (const auto& [handler, profile] : handlers) {
    HandlerRecommendation rec{.handler = handler, .profile = profile.name};
    auto base_mib = static_cast<int64_t>(profile.base_memory_mib);
    auto fallback = [&](uint32_t uvm_mib, uint32_t bucket_max) {
      BucketRecommendation b{.max_uvm_mib = bucket_max, .model_uvm_mib = uvm_mib, .base_mib = base_mib};
      b.model_host_overhead_bytes = model.OverheadBytes(uvm_mib);
      b.pod_fixed_mib = base_mib + CeilMib(b.model_host_overhead_bytes);
      return b;
    };
    for (const auto& [max_mib, bucketed] : by_handler[handler]) {
      BucketRecommendation b{.max_uvm_mib = max_mib,
                             .measured = true,
                             .samples = bucketed.overheads.size(),
                             .pods = bucketed.uids.size() + bucketed.pods_without_uid,
                             .smallest_uvm_mib = bucketed.smallest,
                             .largest_uvm_mib = bucketed.largest,
                             .model_uvm_mib = bucketed.largest,
                             .base_mib = base_mib};
      double p95 = *NearestRankPercentile(bucketed.overheads, options.percentile);
      b.p95_bytes = static_cast<int64_t>(std::ceil(p95));
      b.margin_bytes =
          static_cast<int64_t>(std::ceil(static_cast<double>(b.p95_bytes) * options.margin_fraction));
      b.model_host_overhead_bytes = model.OverheadBytes(bucketed.largest);
      b.pod_fixed_mib = base_mib + CeilMib(b.p95_bytes + b.margin_bytes);
      rec.buckets.push_back(b);
    }

    if (options.uvm_memory_mib) {
      uint32_t chosen = *options.uvm_memory_mib;
      uint32_t max_mib = BucketMaxMib(chosen);
      auto it = std::find_if(rec.buckets.begin(), rec.buckets.end(),
                             [&](const BucketRecommendation& b) { return b.max_uvm_mib == max_mib; });
      if (it == rec.buckets.end()) {
        rec.buckets.push_back(fallback(chosen, max_mib));
        std::sort(rec.buckets.begin(), rec.buckets.end(),
                  [](const auto& a, const auto& b) { return a.max_uvm_mib < b.max_uvm_mib; });
        it = std::find_if(rec.buckets.begin(), rec.buckets.end(), [&](const BucketRecommendation& b) {
          return b.max_uvm_mib == max_mib && !b.measured;
        });
        rec.notes.push_back(fmt::format(
            "no samples of handler {} in the bucket {} of the chosen {} MiB UVM: falls back to the model",
            handler, BucketName(max_mib), chosen));
      } else {
        rec.notes.push_back(
            fmt::format("the bucket {} of the chosen {} MiB UVM binds", BucketName(max_mib), chosen));
      }
      rec.binding = static_cast<size_t>(it - rec.buckets.begin());
    } else if (rec.buckets.empty()) {
      uint32_t uvm_mib = DefaultPodFixedUvmMib(profile);
      rec.buckets.push_back(fallback(uvm_mib, BucketMaxMib(uvm_mib)));
      rec.binding = 0;
      rec.notes.push_back(fmt::format(
          "no samples of handler {}: falls back to the model for a {} MiB UVM (the profile base + 8Gi or its "
          "no-limit default)",
          handler, uvm_mib));
    } else {
      // One podFixed for the whole class: the bucket needing the most; on a tie the larger bucket.
      size_t best = 0;
      for (size_t i = 1; i < rec.buckets.size(); ++i) {
        if (rec.buckets[i].pod_fixed_mib >= rec.buckets[best].pod_fixed_mib) best = i;
      }
      rec.binding = best;
      const auto& b = rec.buckets[best];
      rec.notes.push_back(
          best + 1 == rec.buckets.size()
              ? fmt::format(
                    "the largest bucket with samples ({}) binds: one podFixed covers every pod of the class",
                    BucketName(b.max_uvm_mib))
              : fmt::format(
                    "the bucket {} binds: it needs more than the larger buckets (one podFixed covers every "
                    "pod of the class)",
                    BucketName(b.max_uvm_mib)));
      rec.notes.push_back(
          fmt::format("pods with a UVM above {} MiB (the largest sampled) are not covered by measurement: "
                      "pass --vm-memory to "
                      "size for them",
                      rec.buckets.back().largest_uvm_mib));
    }
    const auto& bind = rec.buckets[rec.binding];
    rec.pod_fixed_mib = bind.pod_fixed_mib;
    if (bind.measured && bind.pods < options.confident_pods) {
      rec.notes.push_back(fmt::format(
          "low confidence: the binding bucket rests on {} pod(s) ({} sample(s)); measure at least {} pods",
          bind.pods, bind.samples, options.confident_pods));
    }
    out.handlers.push_back(std::move(rec));
  }
  return out;
}

}  // namespace uvm::sizer
