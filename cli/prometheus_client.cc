#include "cli/prometheus_client.h"

// Asio in Boost 1.74 uses std::exchange without including <utility> (TOOLCHAIN.md): include it first.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/quote.h"

namespace uvm::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using nlohmann::json;

// A week of one query's per-pod results is small; anything near this is not the answer we asked for.
constexpr uint64_t kMaxResponseBytes = 64ull << 20;

// What came back, shortened for a message.
std::string Excerpt(std::string_view body) {
  constexpr size_t kMax = 300;
  if (body.empty()) return "an empty body";
  std::string text = QuoteText(body, kMax);
  if (body.size() > kMax) text += fmt::format(" ({} bytes)", body.size());
  return text;
}

// Prometheus's float text: Go's strconv.FormatFloat 'f'/'e' output, or "NaN", "+Inf", "-Inf".
bool ParsePromFloat(const std::string& text, double& out) {
  if (text == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "+Inf" || text == "Inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  const char* begin = text.data();
  if (!text.empty() && *begin == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && begin != end;
}

}  // namespace

Result<PrometheusEndpoint> ParsePrometheusUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Error{.message = fmt::format("--from-prometheus: {} {}", QuoteText(url, 200), why),
                 .code = ErrorCode::kInvalidInput};
  };
  PrometheusEndpoint out{.url = std::string(url)};
  std::string_view rest = url;
  if (rest.starts_with("https://"))
    return bad(
        "is https: only http:// is supported (use a plain-HTTP port, kubectl port-forward or a proxy)");
  if (!rest.starts_with("http://")) return bad("is not an http:// URL");
  rest.remove_prefix(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return bad("carries credentials, which are not supported");
  if (path.find_first_of("?#") != std::string_view::npos)
    return bad("has a query or fragment; give the base URL");
  while (path.ends_with('/')) path.remove_suffix(1);
  out.path_prefix = std::string(path);
  std::string_view host = authority;
  if (authority.starts_with('[')) {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated [IPv6] host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return bad("has text after the [IPv6] host");
    authority = after.empty() ? std::string_view() : after;
    if (!authority.empty()) authority.remove_prefix(1);
    if (!after.empty()) {
      unsigned port = 0;
      auto [end, ec] = std::from_chars(authority.data(), authority.data() + authority.size(), port);
      if (ec != std::errc() || end != authority.data() + authority.size() || port == 0 || port > 65535)
        return bad("has a bad port");
      out.port = static_cast<uint16_t>(port);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view port_text = authority.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return bad("has a bad port");
    out.port = static_cast<uint16_t>(port);
  }
  if (host.empty()) return bad("has no host");
  out.host = std::string(host);
  return out;
}

std::string UrlEncodeComponent(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<std::vector<InstantSample>> ParseInstantVector(std::string_view what, int http_status,
                                                      std::string_view body) {
  auto fail = [&](std::string message, ErrorCode code = ErrorCode::kInvalidInput) {
    return Error{.message = fmt::format("{}: {}", what, message), .code = code};
  };
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(fmt::format("HTTP {} with a body that is not a Prometheus JSON response: {}", http_status,
                            Excerpt(body)),
                http_status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalidInput);
  }
  auto text = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string status = text("status");
  if (status == "error") {
    std::string type = text("errorType");
    // errorType "unavailable"/"timeout" (api/v1: errorUnavailable, errorTimeout) are a server that could
    // not answer now; the rest (bad_data, execution, ...) a query it will never answer.
    ErrorCode code =
        type == "unavailable" || type == "timeout" ? ErrorCode::kUnavailable : ErrorCode::kInvalidInput;
    return fail(
        fmt::format("Prometheus answered HTTP {} with an error: {}: {}", http_status,
                    type.empty() ? "(no errorType)" : QuoteText(type, 100), QuoteText(text("error"), 500)),
        code);
  }
  if (status != "success" || http_status != 200) {
    return fail(fmt::format("HTTP {} with status {}, not a success: {}", http_status, QuoteText(status, 100),
                            Excerpt(body)));
  }
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) return fail("the success response has no \"data\" object");
  auto type = data->find("resultType");
  if (type == data->end() || !type->is_string() || *type != "vector") {
    return fail(fmt::format("resultType is {}, not \"vector\"",
                            type == data->end() ? std::string("missing") : QuoteText(type->dump(), 100)));
  }
  auto result = data->find("result");
  if (result == data->end() || !result->is_array())
    return fail("the vector response has no \"result\" array");
  std::vector<InstantSample> out;
  for (const auto& element : *result) {
    InstantSample sample;
    auto metric = element.is_object() ? element.find("metric") : element.end();
    auto value = element.is_object() ? element.find("value") : element.end();
    if (metric == element.end() || !metric->is_object() || value == element.end() || !value->is_array() ||
        value->size() != 2) {
      return fail(fmt::format("a result element is not {{\"metric\": {{…}}, \"value\": [time, \"v\"]}}: {}",
                              Excerpt(element.dump())));
    }
    for (const auto& [name, label] : metric->items()) {
      if (label.is_string()) sample.labels[name] = label.get<std::string>();
    }
    const json& v = (*value)[1];
    sample.value_text = v.is_string() ? v.get<std::string>() : v.dump();
    sample.numeric = v.is_string() && ParsePromFloat(sample.value_text, sample.value);
    if (!sample.numeric) sample.value = std::numeric_limits<double>::quiet_NaN();
    out.push_back(std::move(sample));
  }
  return out;
}

Result<std::vector<InstantSample>> QueryInstant(const PrometheusEndpoint& endpoint, const std::string& promql,
                                                std::chrono::milliseconds timeout) {
  std::string target = endpoint.path_prefix + "/api/v1/query?query=" + UrlEncodeComponent(promql);
  std::string what = fmt::format("Prometheus {}: query {}", endpoint.url, promql);
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, endpoint.host);
  request.set(http::field::accept, "application/json");
  request.set(http::field::user_agent, "uvm-sizer");
  request.set(http::field::connection, "close");
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);

  std::optional<Error> failure;
  bool done = false;
  auto fail = [&](std::string_view step, beast::error_code ec) {
    ErrorCode code = ec == beast::error::timeout             ? ErrorCode::kDeadline
                     : ec == asio::error::connection_refused ? ErrorCode::kUnavailable
                     : ec == asio::error::host_not_found     ? ErrorCode::kNotFound
                     : ec == http::error::body_limit         ? ErrorCode::kResourceExhausted
                     : ec.category() == http::make_error_code(http::error::bad_version).category()
                         ? ErrorCode::kInvalidInput
                         : ErrorCode::kUnavailable;
    std::string reason =
        ec == beast::error::timeout ? fmt::format("timed out after {} ms", timeout.count()) : ec.message();
    failure =
        Error{.message = fmt::format("Prometheus {}: {}: {}", endpoint.url, step, reason), .code = code};
  };
  resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                         [&](beast::error_code ec, auto results) {
                           if (ec) return fail(fmt::format("resolve {}", endpoint.host), ec);
                           stream.expires_after(timeout);  // one deadline for connect, request and response
                           stream.async_connect(results, [&](beast::error_code cec, const tcp::endpoint&) {
                             if (cec) return fail("connect", cec);
                             http::async_write(stream, request, [&](beast::error_code wec, size_t) {
                               if (wec) return fail("send the query", wec);
                               http::async_read(stream, buffer, parser, [&](beast::error_code rec, size_t) {
                                 if (rec) return fail("read the response", rec);
                                 done = true;
                               });
                             });
                           });
                         });
  // The resolver has no deadline of its own: bound the whole run (a name server that never answers).
  io.run_for(timeout + std::chrono::seconds(1));
  if (!done && !failure) {
    failure =
        Error{.message = fmt::format("Prometheus {}: no answer within {} ms", endpoint.url, timeout.count()),
              .code = ErrorCode::kDeadline};
  }
  if (failure) return *failure;
  const auto& response = parser.get();
  return ParseInstantVector(what, static_cast<int>(response.result_int()), response.body());
}

}  // namespace uvm::cli
