// `uvm-sizer-startup scrape`: the per-handler startup table the node's own histograms allow, at bucket
// resolution (no per-pod data: n, mean = _sum/_count, p50/p90/p99 interpolated inside buckets; a
// quantile beyond the top finite bucket is "> top", not a number). Sources: the kubelet's /metrics
// (kubelet_run_podsandbox_duration_seconds{runtime_handler}, kubelet_runtime_operations_duration_seconds
// {operation_type}) and containerd's /v1/metrics (containerd_cri_<timer>_seconds{runtime}: the runtime
// TYPE on 1.6, so handlers sharing one runtime collapse into one row). Building and rendering are pure;
// Scrape is the only I/O (one GET per source).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bench/startup/histograms.h"

namespace uvm::startup {

enum class NodeMetricsSource { kKubelet, kContainerd };
std::string_view NodeMetricsSourceName(NodeMetricsSource source);  // "kubelet", "containerd"

struct ScrapeRow {
  std::string metric;     // the family, e.g. "kubelet_run_podsandbox_duration_seconds"
  std::string key_label;  // "runtime_handler", "operation_type" or "runtime"
  std::string key;        // its value; "" when the series is unlabelled
  std::string phase;      // the pod-start phase of pods.jsonl this timer covers, e.g. "run_sandbox"
  double count = 0;
  double sum_seconds = 0;
  std::optional<double> mean_seconds;  // nullopt when count is 0
  std::optional<double> top_bucket_seconds;
  BucketQuantile p50, p90, p99;
};

struct ScrapeSource {
  NodeMetricsSource source = NodeMetricsSource::kKubelet;
  std::string url;
  std::vector<ScrapeRow> rows;
  std::optional<Error> error;  // the GET or the text failed: an error row, the other source goes on
};

struct ScrapeReport {
  std::vector<ScrapeSource> sources;
  bool ok() const;  // no source failed
};

// The rows of one source's exposition text, in a fixed family order, then by first appearance. The
// kubelet's operation timer gives only the operations of a pod start. Errors name `what` and the line.
Result<std::vector<ScrapeRow>> ScrapeRows(NodeMetricsSource source, std::string_view exposition,
                                          std::string_view what);

struct ScrapeOptions {
  std::string kubelet_url;     // "" = not scraped; a URL without a path gets /metrics
  std::string containerd_url;  // "" = not scraped; a URL without a path gets /v1/metrics
  std::chrono::milliseconds timeout{5000};
};

// The URL a source is fetched from: `url`, with the source's default path when it has none.
std::string MetricsUrlWithDefaultPath(NodeMetricsSource source, std::string_view url);

// Bad usage (no URL at all, a URL that is no http:// URL: kInvalidInput naming the flag) is an error;
// a source that cannot be fetched or parsed is an error row of the report.
Result<ScrapeReport> Scrape(const ScrapeOptions& options);

// The text table (stdout of `scrape`) and the JSON (`scrape --json`, for machines; schema in
// bench/startup/README.md: {"resolution":"bucket","sources":[{"source","url","error","rows":[...]}]}).
std::string RenderScrapeText(const ScrapeReport& report);
std::string RenderScrapeJson(const ScrapeReport& report);

}  // namespace uvm::startup
