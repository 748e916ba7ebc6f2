// A minimal HTTP/1.0 GET client for tests that talk to local servers (Prometheus, /metrics endpoints):
// plain sockets, no proxy, no TLS, the whole body read into memory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// GET http://host:port<target>; fails on connect/IO errors or after `timeout_ms` without progress.
uvm::Result<HttpResponse> HttpGet(const std::string& host, uint16_t port, const std::string& target,
                                  int timeout_ms = 10000);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters are kept).
std::string UrlEncode(std::string_view value);

// A loopback TCP port that was free a moment ago (bind to :0, read it, close). Racy by nature: a caller
// that hands it to another process retries if that process cannot bind it.
uvm::Result<uint16_t> FreeLoopbackPort();

}  // namespace uvm::testing
