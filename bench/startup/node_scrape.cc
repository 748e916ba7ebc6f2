#include "bench/startup/node_scrape.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/error_codes.h"
#include "bench/startup/commands.h"
#include "bench/startup/node_metrics.h"
#include "cli/http_get.h"

namespace uvm::startup {
namespace {

using nlohmann::json;

struct FamilySpec {
  HistogramFamilySpec histogram;
  std::string_view column;  // the key column's header in the text table
  std::string_view phase;   // "" = per key (kubelet operations)
};

// kubernetes/kubernetes pkg/kubelet/metrics/metrics.go: RunPodSandboxDuration "Duration in seconds of the
// run_podsandbox operations. Broken down by RuntimeClass.Handler.", label runtime_handler, Buckets
// metrics.DefBuckets (0.005 … 10 s); RuntimeOperationsDuration, label operation_type, Buckets
// ExponentialBuckets(.005, 2.5, 14) (5 ms … ≈745 s), observed around each CRI call in
// pkg/kubelet/kuberuntime/instrumented_services.go (STARTUP.md §2.5).
constexpr std::array<FamilySpec, 2> kKubeletFamilies{{
    {{"kubelet_run_podsandbox_duration_seconds", "runtime_handler"}, "handler", "run_sandbox"},
    {{"kubelet_runtime_operations_duration_seconds", "operation_type"}, "operation", ""},
}};

// containerd pkg/cri/server/metrics.go (1.6): sandboxRuntimeCreateTimer, containerCreateTimer,
// containerStartTimer are labelled `runtime` (the runtime type on 1.6.20 [measured]);
// sandboxCreateNetworkTimer is unlabelled. Served at [metrics] address /v1/metrics as
// containerd_cri_<name>_seconds, buckets 0.005 … 10 s (STARTUP.md §2.6).
constexpr std::array<FamilySpec, 4> kContainerdFamilies{{
    {{"containerd_cri_sandbox_runtime_create_seconds", "runtime"}, "runtime", "run_sandbox"},
    {{"containerd_cri_sandbox_create_network_seconds", "runtime"}, "runtime", "run_sandbox"},
    {{"containerd_cri_container_create_seconds", "runtime"}, "runtime", "create_container"},
    {{"containerd_cri_container_start_seconds", "runtime"}, "runtime", "start_container"},
}};

// The kubelet's operation_type values of a pod start (instrumented_services.go `const operation = ...`)
// -> the phase names of pods.jsonl (record.h PhaseName), in the kubelet's order.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kKubeletOperationPhases{{
    {"run_podsandbox", "run_sandbox"},
    {"podsandbox_status", "sandbox_status"},
    {"image_status", "image_status"},
    {"pull_image", "pull_image"},
    {"create_container", "create_container"},
    {"start_container", "start_container"},
}};

constexpr std::string_view kResolutionNote =
    "bucket resolution: n and mean (_sum/_count) are exact; p50/p90/p99 are interpolated linearly inside "
    "Prometheus buckets as histogram_quantile does, and \"> X\" means beyond the top finite bucket X";
constexpr std::string_view kRuntimeTypeNote =
    "containerd labels its CRI timers by runtime type, not handler: handlers sharing a runtime type "
    "collapse into one row";

std::span<const FamilySpec> FamiliesOf(NodeMetricsSource source) {
  if (source == NodeMetricsSource::kKubelet) return kKubeletFamilies;
  return kContainerdFamilies;
}

std::string_view DefaultPath(NodeMetricsSource source) {
  return source == NodeMetricsSource::kKubelet ? "/metrics" : "/v1/metrics";
}

std::string_view FlagOf(NodeMetricsSource source) {
  return source == NodeMetricsSource::kKubelet ? "--kubelet" : "--containerd";
}

std::optional<std::string_view> KubeletOperationPhase(std::string_view operation) {
  for (const auto& [op, phase] : kKubeletOperationPhases) {
    if (op == operation) return phase;
  }
  return std::nullopt;
}

// "75.0 ms", "3.21 s": durations people read.
std::string FormatSeconds(double seconds) {
  if (std::abs(seconds) < 1) return fmt::format("{:.1f} ms", seconds * 1000);
  return fmt::format("{:.2f} s", seconds);
}

// A bucket bound as Prometheus wrote it: "10 s", "250 ms".
std::string FormatBound(double seconds) {
  if (seconds < 1) return fmt::format("{:g} ms", seconds * 1000);
  return fmt::format("{:g} s", seconds);
}

std::string FormatQuantile(const BucketQuantile& q) {
  if (q.seconds) return FormatSeconds(*q.seconds);
  if (q.above) return "> " + FormatBound(*q.above);
  return "-";
}

json QuantileSeconds(const BucketQuantile& q) {
  return q.seconds ? json(*q.seconds) : json(nullptr);
}

// Columns padded to their widest cell, two spaces apart; numbers right-aligned.
std::string RenderColumns(const std::vector<std::vector<std::string>>& rows, size_t left_aligned,
                          std::string_view indent) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += i < left_aligned ? fmt::format("{:<{}}", row[i], width[i])
                               : fmt::format("{:>{}}", row[i], width[i]);
    }
    while (line.ends_with(' ')) line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string_view NodeMetricsSourceName(NodeMetricsSource source) {
  return source == NodeMetricsSource::kKubelet ? "kubelet" : "containerd";
}

bool ScrapeReport::ok() const {
  return std::none_of(sources.begin(), sources.end(),
                      [](const ScrapeSource& s) { return s.error.has_value(); });
}

Result<std::vector<ScrapeRow>> ScrapeRows(NodeMetricsSource source, std::string_view exposition,
                                          std::string_view what) {
  std::span<const FamilySpec> families = FamiliesOf(source);
  std::vector<HistogramFamilySpec> specs;
  for (const FamilySpec& f : families) specs.push_back(f.histogram);
  auto series = ReadHistograms(exposition, what, specs);
  if (!series) return series.error();

  std::vector<ScrapeRow> rows;
  for (const HistogramSeries& s : *series) {
    const FamilySpec& family = *std::find_if(
        families.begin(), families.end(), [&](const FamilySpec& f) { return f.histogram.name == s.family; });
    std::string phase(family.phase);
    if (phase.empty()) {
      auto op = KubeletOperationPhase(s.key);
      if (!op) continue;  // not an operation of a pod start (list_podsandbox, stop_container, ...)
      phase = std::string(*op);
    }
    rows.push_back({.metric = s.family,
                    .key_label = std::string(family.histogram.key_label),
                    .key = s.key,
                    .phase = std::move(phase),
                    .count = s.count,
                    .sum_seconds = s.sum,
                    .mean_seconds = s.count > 0 ? std::optional(s.sum / s.count) : std::nullopt,
                    .top_bucket_seconds = TopFiniteBucket(s),
                    .p50 = HistogramQuantile(0.5, s),
                    .p90 = HistogramQuantile(0.9, s),
                    .p99 = HistogramQuantile(0.99, s)});
  }
  // Family by family (ReadHistograms' order), the kubelet's operations in the order of a pod start.
  auto order = [&](const ScrapeRow& r) {
    size_t family =
        static_cast<size_t>(std::find_if(families.begin(), families.end(),
                                         [&](const FamilySpec& f) { return f.histogram.name == r.metric; }) -
                            families.begin());
    size_t operation = 0;
    while (r.key_label == "operation_type" && operation < kKubeletOperationPhases.size() &&
           kKubeletOperationPhases[operation].first != r.key)
      ++operation;
    return std::pair{family, operation};
  };
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const ScrapeRow& a, const ScrapeRow& b) { return order(a) < order(b); });
  return rows;
}

std::string MetricsUrlWithDefaultPath(NodeMetricsSource source, std::string_view url) {
  auto parsed = cli::ParseHttpUrl(url, 80);
  if (parsed && (parsed->path.empty() || parsed->path == "/")) {
    std::string_view base = url;
    while (base.ends_with('/')) base.remove_suffix(1);
    return fmt::format("{}{}", base, DefaultPath(source));
  }
  return std::string(url);
}

Result<ScrapeReport> Scrape(const ScrapeOptions& options) {
  if (options.kubelet_url.empty() && options.containerd_url.empty())
    return InvalidInput("scrape: give --kubelet URL, --containerd URL or both");
  std::vector<std::pair<NodeMetricsSource, std::string>> wanted;
  for (auto [source, url] : {std::pair{NodeMetricsSource::kKubelet, &options.kubelet_url},
                             std::pair{NodeMetricsSource::kContainerd, &options.containerd_url}}) {
    if (url->empty()) continue;
    if (auto parsed = cli::ParseHttpUrl(*url, 80); !parsed)
      return WithMessage(parsed.error(),
                         fmt::format("scrape {}: {}", FlagOf(source), parsed.error().message));
    wanted.emplace_back(source, MetricsUrlWithDefaultPath(source, *url));
  }
  ScrapeReport report;
  for (auto& [source, url] : wanted) {
    ScrapeSource out{.source = source, .url = url};
    auto text = FetchMetricsText(url, options.timeout);
    if (!text) {
      out.error = text.error();
    } else if (auto rows =
                   ScrapeRows(source, *text, fmt::format("{} {}", NodeMetricsSourceName(source), url));
               !rows) {
      out.error = rows.error();
    } else {
      out.rows = std::move(*rows);
    }
    report.sources.push_back(std::move(out));
  }
  return report;
}

std::string RenderScrapeText(const ScrapeReport& report) {
  std::string out = fmt::format("Node startup histograms ({})\n", kResolutionNote);
  for (const ScrapeSource& source : report.sources) {
    out += fmt::format("\n{} {}\n", NodeMetricsSourceName(source.source), source.url);
    if (source.error) {
      out += fmt::format("  error ({}): {}\n", ErrorCodeName(source.error->code), source.error->message);
      continue;
    }
    if (source.source == NodeMetricsSource::kContainerd) out += fmt::format("  note: {}\n", kRuntimeTypeNote);
    for (const FamilySpec& family : FamiliesOf(source.source)) {
      std::vector<const ScrapeRow*> rows;
      for (const ScrapeRow& r : source.rows) {
        if (r.metric == family.histogram.name) rows.push_back(&r);
      }
      if (rows.empty()) {
        out += fmt::format("  {}: no series (nothing observed yet, or not served here)\n",
                           family.histogram.name);
        continue;
      }
      out += fmt::format("  {}{}\n", family.histogram.name,
                         rows.front()->top_bucket_seconds
                             ? fmt::format(" (top bucket {})", FormatBound(*rows.front()->top_bucket_seconds))
                             : "");
      std::vector<std::vector<std::string>> table{
          {std::string(family.column), "phase", "n", "mean", "p50", "p90", "p99"}};
      for (const ScrapeRow* r : rows) {
        table.push_back({r->key.empty() ? "(all)" : r->key, r->phase, fmt::format("{:.0f}", r->count),
                         r->mean_seconds ? FormatSeconds(*r->mean_seconds) : "-", FormatQuantile(r->p50),
                         FormatQuantile(r->p90), FormatQuantile(r->p99)});
      }
      out += RenderColumns(table, 2, "    ");
    }
  }
  return out;
}

std::string RenderScrapeJson(const ScrapeReport& report) {
  json sources = json::array();
  for (const ScrapeSource& source : report.sources) {
    json rows = json::array();
    for (const ScrapeRow& r : source.rows) {
      json row = {{"metric", r.metric},
                  {"key_label", r.key_label},
                  {"key", r.key},
                  {"phase", r.phase},
                  {"n", r.count},
                  {"sum_s", r.sum_seconds},
                  {"mean_s", r.mean_seconds ? json(*r.mean_seconds) : json(nullptr)},
                  {"top_bucket_s", r.top_bucket_seconds ? json(*r.top_bucket_seconds) : json(nullptr)}};
      for (auto [name, q] : {std::pair{"p50", &r.p50}, std::pair{"p90", &r.p90}, std::pair{"p99", &r.p99}}) {
        row[fmt::format("{}_s", name)] = QuantileSeconds(*q);
        row[fmt::format("{}_above_top_bucket", name)] = q->above.has_value();
      }
      rows.push_back(std::move(row));
    }
    json entry = {
        {"source", NodeMetricsSourceName(source.source)}, {"url", source.url}, {"rows", std::move(rows)}};
    entry["error"] =
        source.error ? json{{"message", source.error->message}, {"code", ErrorCodeName(source.error->code)}}
                     : json(nullptr);
    if (source.source == NodeMetricsSource::kContainerd) entry["key_is_runtime_type"] = true;
    sources.push_back(std::move(entry));
  }
  json doc = {{"resolution", "bucket"}, {"note", kResolutionNote}, {"sources", std::move(sources)}};
  return doc.dump(2) + "\n";
}

void AddScrapeCommand(CLI::App& app, int* exit_code) {
  struct Options {
    ScrapeOptions scrape;
    bool json = false;
    int timeout_ms = 5000;
  };
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "scrape",
      "The per-handler startup table from the node's own histograms (kubelet, containerd), at bucket "
      "resolution");
  cmd->add_option("--kubelet", opt->scrape.kubelet_url,
                  "the kubelet's metrics, http:// only (its port 10250 is https: e.g. `kubectl proxy` and "
                  "http://127.0.0.1:8001/api/v1/nodes/NODE/proxy/metrics); no path = /metrics");
  cmd->add_option("--containerd", opt->scrape.containerd_url,
                  "containerd's [metrics] address, e.g. http://127.0.0.1:1338; no path = /v1/metrics");
  cmd->add_flag("--json", opt->json, "JSON for machines instead of the table");
  cmd->add_option("--timeout-ms", opt->timeout_ms, "give up on a source after this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  cmd->callback([opt, exit_code] {
    opt->scrape.timeout = std::chrono::milliseconds(opt->timeout_ms);
    auto report = Scrape(opt->scrape);
    if (!report) {
      std::cerr << "uvm-sizer-startup " << report.error().message << "\n";
      *exit_code = 2;
      return;
    }
    std::cout << (opt->json ? RenderScrapeJson(*report) : RenderScrapeText(*report));
    for (const ScrapeSource& source : report->sources) {
      if (source.error) std::cerr << "uvm-sizer-startup scrape: " << source.error->message << "\n";
    }
    *exit_code = report->ok() ? 0 : 1;
  });
}

}  // namespace uvm::startup
