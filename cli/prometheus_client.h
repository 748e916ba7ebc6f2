// A small client of Prometheus's HTTP API (/api/v1/query, instant queries), for
// `uvm-sizer runtimeclass --from-prometheus`. http:// only: put a TLS-terminating proxy or
// `kubectl port-forward` in front of an https:// Prometheus. The response parsing is pure and apart.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::cli {

struct PrometheusEndpoint {
  std::string host;
  uint16_t port = 9090;
  std::string path_prefix;  // e.g. "/prometheus" behind a proxy; no trailing slash
  std::string url;          // as given, for messages
};

// http://host[:port][/prefix]; errors name the URL. https:// is refused with a hint.
Result<PrometheusEndpoint> ParsePrometheusUrl(std::string_view url);

// One element of an instant vector. Prometheus sends values as strings ("123", "1.5e+08", "NaN", "+Inf");
// `value` is NaN when the text is no number at all, and `value_text` keeps what came, for notes.
struct InstantSample {
  std::map<std::string, std::string> labels;
  std::string value_text;
  double value = 0;
  bool numeric = false;  // value_text parsed as a float (NaN and ±Inf included, as Prometheus writes them)
};

// The body of an /api/v1/query response: a "success" with resultType "vector", else an error naming
// `what` (the URL and query), Prometheus's errorType and error, or what came instead of JSON.
Result<std::vector<InstantSample>> ParseInstantVector(std::string_view what, int http_status,
                                                      std::string_view body);

// GET <prefix>/api/v1/query?query=<promql>: the instant vector at the server's now. `timeout` bounds the
// resolve, connect, request and response.
Result<std::vector<InstantSample>> QueryInstant(const PrometheusEndpoint& endpoint, const std::string& promql,
                                                std::chrono::milliseconds timeout);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters are kept).
std::string UrlEncodeComponent(std::string_view value);

}  // namespace uvm::cli
