// `uvm-sizer runtimeclass --from-node / --from-prometheus / -o json`, run as built, where no server is
// needed: what happens without a daemon or with bad flags, and the model path's JSON. (With a real
// Prometheus and a real daemon: tests/integration/runtimeclass_*_test.cc.)
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "tests/unit/cli/cli_support.h"

namespace uvm::cli_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A stand-in for a Prometheus that lies or hangs, on a loopback port: every GET /api/v1/query gets the
// answer `respond` gives for its query string (or none at all, with `stall`). A real Prometheus cannot be
// made to send these (tests/integration/runtimeclass_prometheus_test.cc covers what it does send).
class FakePrometheus {
 public:
  FakePrometheus(std::function<std::string(const std::string& target)> respond, bool stall = false)
      : respond_(std::move(respond)), stall_(stall) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakePrometheus() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int c : held_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (stall_) {
        held_.push_back(c);  // never answered: the client's deadline must end it
        continue;
      }
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string target = request.substr(0, request.find("\r\n"));
      std::string body = respond_(target);
      std::string response = fmt::format(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: "
          "close\r\n\r\n{}",
          body.size(), body);
      if (::write(c, response.data(), response.size()) < 0) ADD_FAILURE() << "write";
      ::close(c);
    }
  }
  std::function<std::string(const std::string&)> respond_;
  bool stall_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> held_;
};

std::string Vector(const std::string& results) {
  return R"({"status":"success","data":{"resultType":"vector","result":[)" + results + "]}}";
}

TEST(CliRuntimeClassMeasured, NoDaemonIsExit2NamingTheSocket) {
  ScratchDir dir;
  std::string socket = dir.path() + "/no-daemon.sock";
  auto r = Cli({"runtimeclass", "--handler", "kata-cc", "--from-node", socket, "--timeout-ms", "2000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_THAT(r.err, AllOf(HasSubstr("--from-node"), HasSubstr("cannot reach the daemon at " + socket)));
}

TEST(CliRuntimeClassMeasured, BadFlagsAreExit2NamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--from-prometheus", "https://prom:9090"}, "only http:// is supported"},
      {{"--from-prometheus", "prom:9090"}, "not an http:// URL"},
      {{"--from-prometheus", "http://127.0.0.1:1", "--window", "7days"},
       "--window: \"7days\" is not a Prometheus"},
      {{"--from-prometheus", "http://127.0.0.1:1", "--window", "1d]) or vector(1"}, "--window"},
      {{"--from-node", "/x.sock", "--from-prometheus", "http://p"}, "excludes"},
      {{"--from-node", "/x.sock", "--timeout-ms", "0"}, "--timeout-ms: 0 is not between 1 and 600000"},
  };
  for (auto& c : cases) {
    std::vector<std::string> args = {"runtimeclass", "--handler", "kata-cc"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 2) << c.says;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_THAT(r.err, HasSubstr(c.says));
  }
}

// Nothing listens on the port: a clear error naming the URL, not a hang.
TEST(CliRuntimeClassMeasured, PrometheusDownIsExit2NamingTheUrl) {
  auto r = Cli({"runtimeclass", "--handler", "kata-cc", "--from-prometheus", "http://127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("Prometheus http://127.0.0.1:1"), HasSubstr("connect")));
}

// Values no real measurement gives (text, NaN, +Inf, 1e300) and a hostile pod name are refused or quoted
// per pod, in notes that stay YAML comments; the honest pods still make the recommendation.
TEST(CliRuntimeClassMeasured, ALyingPrometheusIsRefusedPerPodNeverACrash) {
  FakePrometheus prom([](const std::string& target) {
    if (target.find("uvm_sizer_pod_uvm_memory_bytes") != std::string::npos) {
      std::string out;
      for (const char* uid : {"u1", "u2", "u3", "u4", "u5", "u6"})
        out += fmt::format(R"({}{{"metric":{{"uid":"{}"}},"value":[1,"2415919104"]}})",
                           out.empty() ? "" : ",", uid);
      return Vector(out);  // 2304 MiB each
    }
    return Vector(R"({"metric":{"uid":"u1","namespace":"a","pod":"honest"},"value":[1,"104857600"]},)"
                  R"({"metric":{"uid":"u2","namespace":"a","pod":"words"},"value":[1,"lots"]},)"
                  R"({"metric":{"uid":"u3","namespace":"a","pod":"nan"},"value":[1,"NaN"]},)"
                  R"({"metric":{"uid":"u4","namespace":"a","pod":"inf"},"value":[1,"+Inf"]},)"
                  R"({"metric":{"uid":"u5","namespace":"a","pod":"huge"},"value":[1,"1e300"]},)"
                  R"({"metric":{"uid":"u6","namespace":"a","pod":"x\nkind: Secret"},"value":[1,"-5"]},)"
                  R"({"metric":{"namespace":"a","pod":"no-uid"},"value":[1,"1"]})");
  });
  auto r = Cli({"runtimeclass", "--handler", "kata-cc", "--from-prometheus", prom.url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  YAML::Node rc = YAML::Load(r.out);
  EXPECT_EQ(rc["kind"].as<std::string>(), "RuntimeClass");
  EXPECT_FALSE(rc["kind"].as<std::string>() == "Secret");
  EXPECT_EQ(rc["overhead"]["podFixed"]["memory"].as<std::string>(), "2163Mi");  // 2048 + ⌈100 MiB · 1.15⌉
  EXPECT_THAT(r.out, HasSubstr("a/words: Prometheus gave the value \"lots\", not a number: skipped"));
  EXPECT_THAT(r.out, AllOf(HasSubstr("sample of a/nan"), HasSubstr("sample of a/inf"),
                           HasSubstr("sample of a/huge"), HasSubstr("beyond 1 TiB")));
  EXPECT_THAT(r.out, HasSubstr("a/x\\u000akind: Secret"));  // escaped, still inside the comment
  EXPECT_THAT(r.out, Not(HasSubstr("\nkind: Secret")));
  EXPECT_THAT(r.out, HasSubstr("a series of a/no-uid has no uid label: skipped"));
  EXPECT_THAT(r.out, HasSubstr("from 1 sample(s) of 1 pod(s)"));
}

// A Prometheus that accepts and never answers: the deadline ends it with a message naming the URL.
TEST(CliRuntimeClassMeasured, AHangingPrometheusTimesOut) {
  FakePrometheus prom([](const std::string&) { return std::string(); }, /*stall=*/true);
  auto r =
      Cli({"runtimeclass", "--handler", "kata-cc", "--from-prometheus", prom.url(), "--timeout-ms", "500"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_THAT(r.err, AllOf(HasSubstr("Prometheus " + prom.url()), HasSubstr("timed out after 500 ms")));
}

// -o json of the model path: the same podFixed as the YAML, with the evidence saying it is the model's.
TEST(CliRuntimeClassMeasured, JsonOfTheModelMatchesTheYaml) {
  for (std::string vm : {"", "64Gi"}) {
    std::vector<std::string> args = {"runtimeclass", "--handler", "kata-cc"};
    if (!vm.empty()) args.insert(args.end(), {"--vm-memory", vm});
    auto yaml = Cli(args);
    args.insert(args.end(), {"-o", "json"});
    auto json = Cli(args);
    ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
    ASSERT_EQ(json.exit_code, 0) << json.err;
    auto j = Json(json);
    EXPECT_EQ(j["runtimeclass"]["overhead"]["podFixed"]["memory"].get<std::string>(),
              YAML::Load(yaml.out)["overhead"]["podFixed"]["memory"].as<std::string>());
    EXPECT_EQ(j["runtimeclass"]["overhead"]["podFixed"]["cpu"].get<std::string>(),
              YAML::Load(yaml.out)["overhead"]["podFixed"]["cpu"].as<std::string>());
    const auto& rec = j["recommendation"];
    EXPECT_EQ(rec["samples_used"], 0);
    ASSERT_EQ(rec["buckets"].size(), 1u);
    EXPECT_EQ(rec["buckets"][0]["measured"], false);
    EXPECT_EQ(rec["buckets"][0]["model_uvm_mib"], vm.empty() ? 2048 + 8192 : 65536);
  }
}

}  // namespace
}  // namespace uvm::cli_test
