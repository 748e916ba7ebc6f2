// One plain-HTTP GET (Boost.Beast, header-only), shared by the Prometheus API client
// (cli/prometheus_client.cc) and the startup profiler's scrape of the node's /metrics endpoints
// (bench/startup/node_metrics.cc). http:// only: TLS belongs to a proxy in front (kubectl proxy,
// kubectl port-forward). A library of its own so neither user drags in the other.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::cli {

struct HttpUrl {
  std::string host;   // without the [] of an IPv6 literal
  uint16_t port = 0;  // the default port given to ParseHttpUrl when the URL has none
  std::string path;   // as given after the authority ("" when none), query included
  std::string url;    // as given, for messages
};

// http://host[:port][/path]. An error's message is `"<url>" <why>` (the caller adds which flag it was);
// https://, credentials, a bad port or host are refused. Code kInvalidInput.
Result<HttpUrl> ParseHttpUrl(std::string_view url, uint16_t default_port);

struct HttpGetRequest {
  std::string host;
  uint16_t port = 0;
  std::string target;                       // "/path?query"
  std::string accept = "*/*";               // the Accept header
  std::string what;                         // names the peer in errors: "<what>: <step>: <reason>"
  std::chrono::milliseconds timeout{5000};  // one deadline for resolve, connect, request and response
  uint64_t max_body_bytes = 64ull << 20;    // a larger body fails with kResourceExhausted
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Any status is a response (the caller decides what a 404 means); only a failure to get one is an error:
// kDeadline (timed out), kUnavailable (refused, reset), kNotFound (the host does not resolve),
// kResourceExhausted (body over the limit), kInvalidInput (not HTTP).
Result<HttpResponse> HttpGet(const HttpGetRequest& request);

// What a body shows in an error message: at most `max_chars`, quoted, with its size when cut short;
// "an empty body" when there is none.
std::string BodyExcerpt(std::string_view body, size_t max_chars);

}  // namespace uvm::cli
