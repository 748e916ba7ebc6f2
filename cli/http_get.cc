#include "cli/http_get.h"

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
#include <optional>

#include <fmt/format.h>

#include "base/quote.h"

namespace uvm::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

bool ParsePort(std::string_view text, uint16_t& out) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) return false;
  out = static_cast<uint16_t>(port);
  return true;
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url, uint16_t default_port) {
  auto bad = [&](std::string_view why) {
    return Error{.message = fmt::format("{} {}", QuoteText(url, 200), why), .code = ErrorCode::kInvalidInput};
  };
  HttpUrl out{.port = default_port, .url = std::string(url)};
  std::string_view rest = url;
  if (rest.starts_with("https://"))
    return bad(
        "is https: only http:// is supported (use a plain-HTTP port, kubectl port-forward or a proxy)");
  if (!rest.starts_with("http://")) return bad("is not an http:// URL");
  rest.remove_prefix(7);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos)
    return bad("carries credentials, which are not supported");
  std::string_view host = authority;
  if (authority.starts_with('[')) {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated [IPv6] host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return bad("has text after the [IPv6] host");
      if (!ParsePort(after.substr(1), out.port)) return bad("has a bad port");
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    if (!ParsePort(authority.substr(colon + 1), out.port)) return bad("has a bad port");
  }
  if (host.empty()) return bad("has no host");
  out.host = std::string(host);
  return out;
}

Result<HttpResponse> HttpGet(const HttpGetRequest& request) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> message{http::verb::get, request.target, 11};
  message.set(http::field::host, request.host);
  message.set(http::field::accept, request.accept);
  message.set(http::field::user_agent, "uvm-sizer");
  message.set(http::field::connection, "close");
  http::response_parser<http::string_body> parser;
  parser.body_limit(request.max_body_bytes);

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
    std::string reason = ec == beast::error::timeout
                             ? fmt::format("timed out after {} ms", request.timeout.count())
                             : ec.message();
    failure = Error{.message = fmt::format("{}: {}: {}", request.what, step, reason), .code = code};
  };
  resolver.async_resolve(request.host, std::to_string(request.port), [&](beast::error_code ec, auto results) {
    if (ec) return fail(fmt::format("resolve {}", request.host), ec);
    stream.expires_after(request.timeout);  // one deadline for connect, request and response
    stream.async_connect(results, [&](beast::error_code cec, const tcp::endpoint&) {
      if (cec) return fail("connect", cec);
      http::async_write(stream, message, [&](beast::error_code wec, size_t) {
        if (wec) return fail("send the request", wec);
        http::async_read(stream, buffer, parser, [&](beast::error_code rec, size_t) {
          if (rec) return fail("read the response", rec);
          done = true;
        });
      });
    });
  });
  // The resolver has no deadline of its own: bound the whole run (a name server that never answers).
  io.run_for(request.timeout + std::chrono::seconds(1));
  if (!done && !failure) {
    failure =
        Error{.message = fmt::format("{}: no answer within {} ms", request.what, request.timeout.count()),
              .code = ErrorCode::kDeadline};
  }
  if (failure) return *failure;
  auto response = parser.release();
  HttpResponse out{.status = static_cast<int>(response.result_int())};
  if (auto it = response.find(http::field::content_type); it != response.end())
    out.content_type = std::string(it->value());
  out.body = std::move(response.body());
  return out;
}

std::string BodyExcerpt(std::string_view body, size_t max_chars) {
  if (body.empty()) return "an empty body";
  std::string text = QuoteText(body, max_chars);
  if (body.size() > max_chars) text += fmt::format(" ({} bytes)", body.size());
  return text;
}

}  // namespace uvm::cli
