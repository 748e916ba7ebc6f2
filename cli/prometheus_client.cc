#include "cli/prometheus_client.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/quote.h"
#include "cli/http_get.h"

namespace uvm::cli {
namespace {

using nlohmann::json;

// A week of one query's per-pod results is small; anything near this is not the answer we asked for.
constexpr uint64_t kMaxResponseBytes = 64ull << 20;

// What came back, shortened for a message.
std::string Excerpt(std::string_view body) {
  return cli::BodyExcerpt(body, 300);
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

// ParseHttpUrl's error, said of the flag it came from.
Error WithFlag(Error error) {
  error.message = "--from-prometheus: " + error.message;
  return error;
}

}  // namespace

Result<PrometheusEndpoint> ParsePrometheusUrl(std::string_view url) {
  auto parsed = ParseHttpUrl(url, 9090);  // Prometheus's own default port
  if (!parsed) return WithFlag(parsed.error());
  std::string_view path = parsed->path;
  if (path.find_first_of("?#") != std::string_view::npos)
    return WithFlag(
        Error{.message = fmt::format("{} has a query or fragment; give the base URL", QuoteText(url, 200)),
              .code = ErrorCode::kInvalidInput});
  while (path.ends_with('/')) path.remove_suffix(1);
  return PrometheusEndpoint{
      .host = parsed->host, .port = parsed->port, .path_prefix = std::string(path), .url = std::string(url)};
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
  auto response =
      HttpGet({.host = endpoint.host,
               .port = endpoint.port,
               .target = endpoint.path_prefix + "/api/v1/query?query=" + UrlEncodeComponent(promql),
               .accept = "application/json",
               .what = fmt::format("Prometheus {}", endpoint.url),
               .timeout = timeout,
               .max_body_bytes = kMaxResponseBytes});
  if (!response) return response.error();
  return ParseInstantVector(fmt::format("Prometheus {}: query {}", endpoint.url, promql), response->status,
                            response->body);
}

}  // namespace uvm::cli
