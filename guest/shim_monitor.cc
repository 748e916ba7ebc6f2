#include "guest/shim_monitor.h"

// Boost 1.74 Asio + GCC 12 in C++23 mode needs <utility> first (TOOLCHAIN.md).
#include <utility>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <exception>
#include <memory>
#include <optional>

#include "base/error_codes.h"
#include "guest/shim_metrics.h"

namespace uvm::guest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::local::stream_protocol;

constexpr std::string_view kSocketName = "shim-monitor.sock";
// sizeof(sockaddr_un::sun_path) is 108 on Linux, including the terminating NUL.
constexpr size_t kMaxUnixPath = 107;

bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

std::string Printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 80) out += "...";
  return out;
}

// Runs the caller's callback. The contract (shim_monitor.h) is that it does not throw; one that does is a
// bug, and it ends the process here, loudly (std::terminate names the exception), instead of unwinding
// through the caller's io_context or being dropped without a trace.
template <class Callback, class Value>
void Deliver(Callback& done, Value&& value) noexcept {
  if (done) done(std::forward<Value>(value));
}

// An Asio/Beast failure as an Error: a timeout is kDeadline; an errno (no socket: ENOENT, nobody
// listening: ECONNREFUSED) maps through CodeFromErrno; a peer that closed early is kUnavailable; a
// response Beast cannot parse is kInvalidInput.
Error StreamError(beast::error_code ec, std::string message) {
  if (ec == beast::error::timeout) return Error{.message = std::move(message), .code = ErrorCode::kDeadline};
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category()) {
    return SysError(ec.value(), std::move(message));
  }
  if (ec == asio::error::eof || ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return Error{.message = std::move(message), .code = ErrorCode::kUnavailable};
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return InvalidInput(std::move(message));
  }
  return Error{.message = std::move(message)};
}

// One GET /metrics: connect, write, read, under one deadline. Lives until its last handler ran.
class FetchOp : public std::enable_shared_from_this<FetchOp> {
 public:
  FetchOp(asio::io_context& io, std::string path, const ShimMonitorOptions& options, ShimMetricsCallback done)
      : stream_(io), path_(std::move(path)), options_(options), done_(std::move(done)) {}

  void Start() {
    request_.method(http::verb::get);
    request_.target("/metrics");
    request_.version(11);
    // Go's net/http refuses HTTP/1.1 without Host; kata-monitor asks for http://shim/metrics.
    request_.set(http::field::host, "shim");
    request_.set(http::field::accept, "text/plain");
    request_.set(http::field::connection, "close");
    parser_.body_limit(options_.max_response_bytes);
    // The deadline covers every operation started from here on: connect, write and read together.
    stream_.expires_after(options_.timeout);
    stream_.async_connect(Socket::endpoint(path_),
                          [self = shared_from_this()](beast::error_code ec) { self->OnConnect(ec); });
  }

 private:
  void OnConnect(beast::error_code ec) {
    if (ec) return Finish(Fail("connect", ec));
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code wec, size_t) {
      if (wec) return self->Finish(self->Fail("send request", wec));
      // Header first: Beast 1.74's eager parse loses the body_limit error when a Content-Length above the
      // limit arrives together with body bytes (basic_parser::put does not stop after finish_header), so
      // the declared length is checked here before any body is read.
      http::async_read_header(self->stream_, self->buffer_, self->parser_,
                              [self](beast::error_code hec, size_t) { self->OnHeader(hec); });
    });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::body_limit ||
        (!ec && parser_.content_length() && *parser_.content_length() > options_.max_response_bytes)) {
      return Finish(TooLarge());
    }
    if (ec) return Finish(Fail("read response header", ec));
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code rec, size_t) { self->OnRead(rec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) return Finish(TooLarge());
    if (ec) return Finish(Fail("read response", ec));
    auto& response = parser_.get();
    if (response.result() != http::status::ok) {
      // 404: this shim serves no /metrics; 5xx: it could not answer now (its agent RPC failed).
      unsigned status = response.result_int();
      return Finish(
          Error{.message = fmt::format("shim-monitor {}: GET /metrics answered {} {}: {}", path_, status,
                                       std::string(response.reason()), Printable(response.body())),
                .code = status == 404   ? ErrorCode::kNotFound
                        : status >= 500 ? ErrorCode::kUnavailable
                                        : ErrorCode::kInternal});
    }
    Finish(std::move(response.body()));
  }

  Error TooLarge() const {
    return Error{.message = fmt::format("shim-monitor {}: response larger than {} bytes", path_,
                                        options_.max_response_bytes),
                 .code = ErrorCode::kResourceExhausted};
  }

  Error Fail(std::string_view step, beast::error_code ec) const {
    if (ec == beast::error::timeout) {
      return StreamError(
          ec, fmt::format("shim-monitor {}: {} timed out (deadline {} ms for the whole request)", path_, step,
                          options_.timeout.count()));
    }
    return StreamError(ec, fmt::format("shim-monitor {}: {}: {}", path_, step, ec.message()));
  }

  void Finish(Result<std::string> result) {
    beast::error_code ignored;
    stream_.socket().shutdown(Socket::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    Deliver(done, std::move(result));
  }

  beast::basic_stream<Socket> stream_;
  std::string path_;
  ShimMonitorOptions options_;
  ShimMetricsCallback done_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

Status ValidateSandboxId(std::string_view id) {
  auto bad = [&](std::string_view why) {
    return Status(InvalidInput(fmt::format("sandbox id \"{}\" is not valid: {}", Printable(id), why)));
  };
  if (id.empty()) return bad("it is empty");
  if (id.size() > kMaxSandboxIdLength)
    return bad(fmt::format("longer than {} characters", kMaxSandboxIdLength));
  for (char c : id) {
    if (!IdChar(c)) return bad("only letters, digits, '.', '_' and '-' are allowed");
  }
  if (id.front() == '.' || id.front() == '-') return bad("it must not start with '.' or '-'");
  if (id.find("..") != std::string_view::npos) return bad("it must not contain \"..\"");
  return {};
}

Result<std::string> ShimMonitorSocketPath(const ShimMonitorOptions& options, std::string_view sandbox_id) {
  if (Status st = ValidateSandboxId(sandbox_id); !st.ok()) return st.error();
  if (options.sandboxes_dir.empty()) return InvalidInput("shim-monitor: sandboxes directory is empty");
  std::string dir = options.sandboxes_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string path = fmt::format("{}/{}/{}", dir == "/" ? "" : dir, sandbox_id, kSocketName);
  if (path.size() > kMaxUnixPath) {
    return InvalidInput(
        fmt::format("shim-monitor {}: path is {} bytes, longer than a unix socket address allows ({})",
                    Printable(path), path.size(), kMaxUnixPath));
  }
  return path;
}

void AsyncFetchShimMetrics(asio::io_context& io, const ShimMonitorOptions& options,
                           std::string_view sandbox_id, ShimMetricsCallback done) {
  auto path = ShimMonitorSocketPath(options, sandbox_id);
  try {
    if (!path.ok()) {
      // Still asynchronous: the callback never runs inside this call.
      asio::post(io, [done = std::move(done), err = path.error()]() mutable { Deliver(done, err); });
      return;
    }
    std::make_shared<FetchOp>(io, std::move(*path), options, std::move(done))->Start();
  } catch (const std::exception& e) {
    // Allocation failure or an Asio error constructing the socket; report it like any other failure.
    std::string what = e.what();
    try {
      asio::post(io, [done = std::move(done), what]() mutable {
        Deliver(done, Error{fmt::format("shim-monitor: cannot start request: {}", what)});
      });
    } catch (...) {
    }
  }
}

void AsyncFetchGuestObservation(asio::io_context& io, const ShimMonitorOptions& options,
                                std::string_view sandbox_id, GuestObservationCallback done) {
  auto path = ShimMonitorSocketPath(options, sandbox_id);
  std::string source = path.ok() ? fmt::format("shim-monitor {}", *path) : std::string("shim-monitor");
  AsyncFetchShimMetrics(
      io, options, sandbox_id,
      [done = std::move(done), source, id = std::string(sandbox_id)](Result<std::string> body) {
        if (!done) return;
        if (!body.ok()) return done(body.error());
        done(GuestObservationFromShimMetrics(*body, source, id));
      });
}

Result<std::string> FetchShimMetrics(const ShimMonitorOptions& options, std::string_view sandbox_id) {
  try {
    asio::io_context io;
    std::optional<Result<std::string>> out;
    AsyncFetchShimMetrics(io, options, sandbox_id, [&](Result<std::string> r) { out.emplace(std::move(r)); });
    io.run();
    if (!out) return Error{"shim-monitor: request ended without a result"};
    return std::move(*out);
  } catch (const std::exception& e) {
    return Error{fmt::format("shim-monitor: {}", e.what())};
  }
}

Result<sizer::GuestObservation> FetchGuestObservation(const ShimMonitorOptions& options,
                                                      std::string_view sandbox_id) {
  auto body = FetchShimMetrics(options, sandbox_id);
  if (!body.ok()) return body.error();
  auto path = ShimMonitorSocketPath(options, sandbox_id);
  return GuestObservationFromShimMetrics(*body, fmt::format("shim-monitor {}", path.ok() ? *path : ""),
                                         sandbox_id);
}

}  // namespace uvm::guest
