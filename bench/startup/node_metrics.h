// The node's own startup histograms, read from Prometheus text exposition: the kubelet's
// (kubelet_run_podsandbox_duration_seconds{runtime_handler}, kubelet_runtime_operations_duration_seconds
// {operation_type}) and containerd's (containerd_cri_<timer>_seconds{runtime}, 1.6: /v1/metrics). Used by
// `uvm-sizer-startup scrape` (a per-handler table at bucket resolution) and by `run` as the cross-check of
// its own RunPodSandbox timing. Parsing is pure; FetchMetricsText is the only I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::startup {

struct HistogramTotals {
  double sum_seconds = 0;
  double count = 0;
};

// GET http://host[:port]/path; the body when the status is 200, else an error naming the URL and status.
Result<std::string> FetchMetricsText(const std::string& url, std::chrono::milliseconds timeout);

// containerd_cri_sandbox_runtime_create_seconds _sum and _count, summed over every `runtime` label (1.6
// labels it by runtime type, so handlers sharing one runtime collapse). Zero when the family has no
// series yet (containerd creates labelled series at the first observation).
Result<HistogramTotals> ContainerdSandboxCreateTotals(std::string_view exposition);

}  // namespace uvm::startup
