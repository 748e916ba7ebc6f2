// Prometheus histograms read back from text exposition, and their quantiles at bucket resolution: what
// the node's own timers (kubelet, containerd) can tell, for `uvm-sizer-startup scrape` and the runner's
// cross-check (node_metrics.h). Pure: text in, values out.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::startup {

struct HistogramBucket {
  double upper_bound = 0;  // the `le` label; +Inf for the last
  double cumulative_count = 0;
};

// One histogram series: every series of `family` with the same value of the key label, added up
// (series that differ only in other labels have the same buckets, so their counts add).
struct HistogramSeries {
  std::string family;
  std::string key;                       // the key label's value; "" when the series has no such label
  std::vector<HistogramBucket> buckets;  // ascending, +Inf last (from _count when the text had none)
  double sum = 0;
  double count = 0;
};

struct HistogramFamilySpec {
  std::string_view name;       // the family, e.g. "kubelet_run_podsandbox_duration_seconds"
  std::string_view key_label;  // e.g. "runtime_handler"
};

// The series of `families` in `exposition`, in the order of `families`, then of first appearance. A family
// without samples contributes nothing (containerd and the kubelet create labelled series at the first
// observation). Errors name `source` and the line: malformed text, a _bucket without a numeric `le`.
Result<std::vector<HistogramSeries>> ReadHistograms(std::string_view exposition, std::string_view source,
                                                    std::span<const HistogramFamilySpec> families);

// A quantile at bucket resolution. Exactly one of the three holds: `seconds` (interpolated), `above`
// (the rank falls in the +Inf bucket: more than the top finite bound, no number), or neither when the
// series has no observations (or no finite bucket at all).
struct BucketQuantile {
  std::optional<double> seconds;
  std::optional<double> above;  // the top finite bucket bound the quantile lies beyond
};

// Prometheus's histogram_quantile (prometheus/prometheus promql/quantile.go, bucketQuantile): buckets
// made monotonic, rank = q·count, the first bucket whose cumulative count reaches the rank, linear
// interpolation inside it from the previous bound (0 for the first bucket, or the bound itself when it is
// <= 0). Where Prometheus answers the top finite bound for a rank in +Inf we say `above` instead: a
// confidential pod at 40 s must not read as 10 s. q in [0, 1].
BucketQuantile HistogramQuantile(double q, const HistogramSeries& series);

// The largest finite bucket bound, nullopt when there is none.
std::optional<double> TopFiniteBucket(const HistogramSeries& series);

}  // namespace uvm::startup
