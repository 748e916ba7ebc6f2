#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace uvm::testing {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

uvm::Result<sockaddr_in> Loopback(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return uvm::Error{fmt::format("http: host \"{}\" is not an IPv4 address", host)};
  }
  return addr;
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

// Decodes a chunked body (RFC 9112 §7.1); Go servers use it for HTTP/1.1 only, but be safe.
uvm::Result<std::string> Dechunk(std::string_view in) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return uvm::Error{"http: truncated chunked body"};
    size_t size = std::strtoul(std::string(in.substr(pos, eol - pos)).c_str(), nullptr, 16);
    pos = eol + 2;
    if (size == 0) return out;
    if (pos + size > in.size()) return uvm::Error{"http: truncated chunk"};
    out.append(in.substr(pos, size));
    pos += size + 2;
  }
}

}  // namespace

uvm::Result<HttpResponse> HttpGet(const std::string& host, uint16_t port, const std::string& target,
                                  int timeout_ms) {
  std::string where = fmt::format("GET http://{}:{}{}", host, port, target.substr(0, 200));
  auto addr = Loopback(host, port);
  if (!addr) return addr.error();
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return uvm::Error{fmt::format("{}: socket: {}", where, std::strerror(errno))};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return uvm::Error{fmt::format("{}: connect: {}", where, std::strerror(errno))};
  }
  std::string request = fmt::format(
      "GET {} HTTP/1.0\r\nHost: {}:{}\r\nAccept: */*\r\nConnection: close\r\n\r\n", target, host, port);
  for (size_t sent = 0; sent < request.size();) {
    if (!WaitFor(fd.get(), POLLOUT, timeout_ms)) return uvm::Error{fmt::format("{}: send timed out", where)};
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return uvm::Error{fmt::format("{}: send: {}", where, std::strerror(errno))};
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  while (true) {
    if (!WaitFor(fd.get(), POLLIN, timeout_ms)) return uvm::Error{fmt::format("{}: read timed out", where)};
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return uvm::Error{fmt::format("{}: recv: {}", where, std::strerror(errno))};
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return uvm::Error{fmt::format("{}: no complete response header", where)};
  HttpResponse r;
  std::string_view head(raw.data(), head_end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
    return uvm::Error{fmt::format("{}: bad status line \"{}\"", where, status_line)};
  }
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view line =
        head.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers[name] = std::string(value);
  }
  r.body = raw.substr(head_end + 4);
  auto te = r.headers.find("transfer-encoding");
  if (te != r.headers.end() && te->second.find("chunked") != std::string::npos) {
    auto body = Dechunk(r.body);
    if (!body) return uvm::Error{fmt::format("{}: {}", where, body.error().message)};
    r.body = std::move(*body);
  }
  return r;
}

std::string UrlEncode(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

uvm::Result<uint16_t> FreeLoopbackPort() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return uvm::Error{fmt::format("free port: socket: {}", std::strerror(errno))};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return uvm::Error{fmt::format("free port: bind 127.0.0.1:0: {}", std::strerror(errno))};
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return uvm::Error{fmt::format("free port: getsockname: {}", std::strerror(errno))};
  }
  return ntohs(addr.sin_port);
}

}  // namespace uvm::testing
