#include "bench/startup/node_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "base/error_codes.h"
#include "base/quote.h"
#include "bench/startup/histograms.h"
#include "cli/http_get.h"
#include "guest/exposition.h"

namespace uvm::startup {
namespace {

// Sandbox task create, labelled `runtime` (containerd pkg/cri/server/metrics.go sandboxRuntimeCreateTimer,
// "time to create a sandbox in the runtime"; on 1.6.20 served at /v1/metrics as
// containerd_cri_sandbox_runtime_create_seconds, runtime = the runtime type: STARTUP.md §2.6).
constexpr std::string_view kSandboxRuntimeCreate = "containerd_cri_sandbox_runtime_create_seconds";

// Kubelet /metrics is several MB on a busy node; anything near this is not a metrics page.
constexpr uint64_t kMaxMetricsBytes = 64ull << 20;

// What came back, shortened for a message.
std::string Excerpt(std::string_view body) {
  return cli::BodyExcerpt(body, 200);
}

ErrorCode CodeFromHttpStatus(int status) {
  if (status == 404 || status == 410) return ErrorCode::kNotFound;
  if (status == 401 || status == 403) return ErrorCode::kPermission;
  if (status == 408 || status == 429 || status >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kInvalidInput;
}

// The `le` label: Go's strconv float text ("0.005", "+Inf"); anything else is no histogram bucket.
std::optional<double> ParseUpperBound(std::string_view text) {
  if (text == "+Inf" || text == "Inf" || text == "inf" || text == "+inf")
    return std::numeric_limits<double>::infinity();
  double out = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') ++begin;
  auto [stop, ec] = std::from_chars(begin, end, out);
  if (ec != std::errc() || stop != end || begin == end || std::isnan(out)) return std::nullopt;
  return out;
}

}  // namespace

Result<std::string> FetchMetricsText(const std::string& url, std::chrono::milliseconds timeout) {
  auto parsed = cli::ParseHttpUrl(url, 80);
  if (!parsed) return parsed.error();
  if (parsed->path.find('#') != std::string::npos)
    return InvalidInput(fmt::format("{} has a fragment; give the metrics URL", QuoteText(url, 200)));
  std::string target =
      parsed->path.empty() || parsed->path.starts_with('?') ? "/" + parsed->path : parsed->path;
  auto response = cli::HttpGet({.host = parsed->host,
                                .port = parsed->port,
                                .target = target,
                                // The text format: client_golang would otherwise negotiate protobuf or
                                // OpenMetrics (prometheus/common expfmt Negotiate).
                                .accept = "text/plain;version=0.0.4;q=1,*/*;q=0.1",
                                .what = fmt::format("GET {}", url),
                                .timeout = timeout,
                                .max_body_bytes = kMaxMetricsBytes});
  if (!response) return response.error();
  if (response->status != 200) {
    return Error{
        .message = fmt::format("GET {}: HTTP {}: {}", url, response->status, Excerpt(response->body)),
        .code = CodeFromHttpStatus(response->status)};
  }
  return std::move(response->body);
}

Result<HistogramTotals> ContainerdSandboxCreateTotals(std::string_view exposition) {
  const std::string sum_name = fmt::format("{}_sum", kSandboxRuntimeCreate);
  const std::string count_name = fmt::format("{}_count", kSandboxRuntimeCreate);
  HistogramTotals totals;
  Status parsed = guest::ParseExposition(exposition, "containerd metrics", [&](const guest::SampleView& s) {
    if (s.name == sum_name) {
      totals.sum_seconds += s.value;
    } else if (s.name == count_name) {
      totals.count += s.value;
    }
  });
  if (!parsed) return parsed.error();
  return totals;
}

Result<std::vector<HistogramSeries>> ReadHistograms(std::string_view exposition, std::string_view source,
                                                    std::span<const HistogramFamilySpec> families) {
  struct Accumulating {
    std::map<double, double> buckets;  // le -> cumulative count
    double sum = 0;
    double count = 0;
  };
  // (family index, key) -> series, and the order of first appearance.
  std::map<std::pair<size_t, std::string>, Accumulating> series;
  std::vector<std::pair<size_t, std::string>> order;
  std::optional<Error> bad;
  auto slot = [&](size_t family, std::string_view key) -> Accumulating& {
    auto id = std::make_pair(family, std::string(key));
    auto [it, inserted] = series.try_emplace(id);
    if (inserted) order.push_back(std::move(id));
    return it->second;
  };

  Status parsed = guest::ParseExposition(exposition, source, [&](const guest::SampleView& s) {
    if (bad) return;
    for (size_t f = 0; f < families.size(); ++f) {
      const HistogramFamilySpec& spec = families[f];
      if (!s.name.starts_with(spec.name)) continue;
      std::string_view suffix = s.name.substr(spec.name.size());
      if (suffix != "_bucket" && suffix != "_sum" && suffix != "_count") continue;
      std::string_view key = s.Label(spec.key_label).value_or("");
      if (suffix == "_bucket") {
        auto le = s.Label("le");
        std::optional<double> bound = le ? ParseUpperBound(*le) : std::nullopt;
        if (!bound) {
          bad = InvalidInput(fmt::format("{}: line {}: {} has {}, not a numeric upper bound `le`", source,
                                         s.line, s.name, le ? "le=" + QuoteText(*le, 50) : "no `le` label"));
          return;
        }
        slot(f, key).buckets[*bound] += s.value;
      } else if (suffix == "_sum") {
        slot(f, key).sum += s.value;
      } else {
        slot(f, key).count += s.value;
      }
      return;
    }
  });
  if (!parsed) return parsed.error();
  if (bad) return *bad;

  std::vector<HistogramSeries> out;
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& id : order) {
    Accumulating& acc = series[id];
    HistogramSeries s{
        .family = std::string(families[id.first].name), .key = id.second, .sum = acc.sum, .count = acc.count};
    // The text format requires a +Inf bucket equal to _count (exposition_formats.md, "Histograms and
    // summaries"); a text without one still tells the total.
    if (!acc.buckets.contains(std::numeric_limits<double>::infinity()))
      acc.buckets[std::numeric_limits<double>::infinity()] = acc.count;
    for (const auto& [bound, count] : acc.buckets)
      s.buckets.push_back({.upper_bound = bound, .cumulative_count = count});
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<double> TopFiniteBucket(const HistogramSeries& series) {
  std::optional<double> top;
  for (const HistogramBucket& b : series.buckets) {
    if (std::isfinite(b.upper_bound)) top = b.upper_bound;
  }
  return top;
}

BucketQuantile HistogramQuantile(double q, const HistogramSeries& series) {
  std::vector<HistogramBucket> buckets = series.buckets;  // ascending by construction
  if (buckets.size() < 2 || !std::isinf(buckets.back().upper_bound)) return {};
  // ensureMonotonic: a scrape racing an observation can show a bucket below its predecessor.
  double running = 0;
  for (HistogramBucket& b : buckets) {
    running = std::max(running, b.cumulative_count);
    b.cumulative_count = running;
  }
  const double observations = buckets.back().cumulative_count;
  if (!(observations > 0)) return {};
  double rank = std::clamp(q, 0.0, 1.0) * observations;
  size_t b = 0;
  while (b < buckets.size() - 1 && buckets[b].cumulative_count < rank) ++b;
  if (b == buckets.size() - 1) return {.above = buckets[b - 1].upper_bound};
  if (b == 0 && buckets[0].upper_bound <= 0) return {.seconds = buckets[0].upper_bound};
  double start = 0;
  double count = buckets[b].cumulative_count;
  if (b > 0) {
    start = buckets[b - 1].upper_bound;
    count -= buckets[b - 1].cumulative_count;
    rank -= buckets[b - 1].cumulative_count;
  }
  return {.seconds = start + (buckets[b].upper_bound - start) * (rank / count)};
}

}  // namespace uvm::startup
