// A real Prometheus scrapes DaemonMetrics every second and loads the shipped rules; the tests ask it, through
// its HTTP API, what it stored: values, hostile labels, series going stale, rule health, a firing alert.
// CapacityEndToEnd (issue 10): the real daemon on pods of a private containerd, plus a kube-state-metrics
// stand-in of the same pods: both views, fit and gap, the alerts, every dashboard query returning data, and
// headless-Chromium screenshots of Prometheus's own pages.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "metrics/daemon_metrics.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/prometheus_process.h"
#include "tests/support/subprocess.h"

namespace uvm::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kMib = 1024 * 1024;
// Upper bound for something Prometheus does every second (scrape, rule evaluation) to become visible.
// Not a performance assertion: only "it never happened".
constexpr auto kPatience = 45s;

// A real Prometheus scraping the given targets every second with the shipped rules loaded
// (tests/support/prometheus_process.h runs it), and the queries the tests ask of it.
class RulesPrometheus {
 public:
  // Starts Prometheus scraping 127.0.0.1:`target_port` every second with the rules file loaded.
  Status Start(uint16_t target_port) { return Start({{"uvm-sizer", target_port}}); }
  // The same with one scrape job per (job name, port).
  Status Start(const std::vector<std::pair<std::string, uint16_t>>& jobs) {
    UVM_TRY(process_.MakeDir("uvm-metrics-prometheus"));
    std::string scrape_configs;
    for (const auto& [job, target_port] : jobs) {
      scrape_configs += fmt::format(
          "  - job_name: {}\n"
          "    static_configs:\n"
          "      - targets: ['127.0.0.1:{}']\n",
          job, target_port);
    }
    return process_.Start(UVM_PROMETHEUS_BIN,
                          fmt::format("global:\n"
                                      "  scrape_interval: 1s\n"
                                      "  scrape_timeout: 1s\n"
                                      "  evaluation_interval: 1s\n"
                                      "rule_files:\n"
                                      "  - {}\n"
                                      "scrape_configs:\n"
                                      "{}",
                                      UVM_RULES_FILE, scrape_configs),
                          kPatience);
  }

  uvm::Result<json> Get(const std::string& target) const {
    auto r = testing::HttpGet("127.0.0.1", process_.port(), target);
    if (!r) return r.error();
    if (r->status != 200) return Error{fmt::format("GET {}: HTTP {}: {}", target, r->status, r->body)};
    try {
      return json::parse(r->body);
    } catch (const std::exception& e) {
      return Error{fmt::format("GET {}: bad JSON: {}", target, e.what())};
    }
  }

  // The instant vector of `promql`, once `done` accepts it (or the last one seen when patience runs out).
  json QueryUntil(const std::string& promql, const std::function<bool(const json&)>& done) const {
    json last;
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = Get("/api/v1/query?query=" + testing::UrlEncode(promql));
      if (r && (*r)["status"] == "success") {
        last = (*r)["data"]["result"];
        if (done(last)) return last;
      }
      std::this_thread::sleep_for(200ms);
    }
    return last;
  }

  uint16_t port() const { return process_.port(); }

  std::string LogTail() const { return process_.LogTail(); }

 private:
  testing::PrometheusProcess process_;
};

bool NonEmpty(const json& v) {
  return v.is_array() && !v.empty();
}
bool Empty(const json& v) {
  return v.is_array() && v.empty();
}
double ValueOf(const json& sample) {
  return std::stod(sample["value"][1].get<std::string>());
}

// What the shipped rules file holds, read from its `- name:`, `- record:` and `- alert:` lines.
struct RulesFile {
  size_t groups = 0, records = 0;
  std::set<std::string> alerts;
};
RulesFile ReadRulesFile() {
  std::ifstream in(UVM_RULES_FILE);
  RulesFile f;
  static const std::regex group(R"(^  - name: )"), record(R"(^      - record: )"),
      alert(R"(^      - alert: (\S+))");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, group)) ++f.groups;
    if (std::regex_search(line, record)) ++f.records;
    if (std::regex_search(line, m, alert)) f.alerts.insert(m[1]);
  }
  return f;
}

class MetricsPrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    metrics_ = new DaemonMetrics("it-1.0", "it-node");
    auto st = metrics_->Listen("127.0.0.1:0");
    if (!st) {
      setup_error_ = st.error().message;
      return;
    }
    prometheus_ = new RulesPrometheus();
    auto started = prometheus_->Start(metrics_->ListeningPorts().at(0));
    if (!started) setup_error_ = started.error().message;
  }
  static void TearDownTestSuite() {
    delete prometheus_;  // kills Prometheus and removes its dir
    prometheus_ = nullptr;
    delete metrics_;
    metrics_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  void TearDown() override {
    if (HasFailure() && prometheus_)
      std::cerr << "prometheus log (tail):\n" << prometheus_->LogTail() << "\n";
  }

  static PodSizingMetrics VmSizing() {
    PodSizingMetrics m;
    m.vm_isolated = true;
    m.uvm_vcpus = 3;
    m.uvm_memory_bytes = 2304 * kMib;
    m.host_memory_bytes = 2500 * kMib;
    m.overhead_required_bytes = 2200 * kMib;
    m.overhead_declared_bytes = 2048 * kMib;
    m.cgroup_memory_usage_bytes = 300 * kMib;  // no limit: unlimited
    return m;
  }

  static inline DaemonMetrics* metrics_ = nullptr;
  static inline RulesPrometheus* prometheus_ = nullptr;
  static inline std::string setup_error_;
};

TEST_F(MetricsPrometheusTest, SizingValuesArriveThroughARealScrape) {
  metrics_->UpsertPod({"shop", "api-0", "it-web", "kata-cc"}, VmSizing());
  PodSizingMetrics plain;
  plain.cgroup_memory_limit_bytes = 512 * kMib;
  plain.cgroup_memory_usage_bytes = 100 * kMib;
  metrics_->UpsertPod({"shop", "plain-0", "it-runc", "runc"}, plain);
  metrics_->SetCriUp(true);
  metrics_->CountCgroupWrite(kWriteOk);
  metrics_->ObserveReconcileSeconds(0.003);

  auto vcpus = prometheus_->QueryUntil(R"(uvm_sizer_pod_uvm_vcpus{uid="it-web"})", NonEmpty);
  ASSERT_EQ(vcpus.size(), 1u) << vcpus.dump();
  EXPECT_EQ(ValueOf(vcpus[0]), 3);
  const json& labels = vcpus[0]["metric"];
  EXPECT_EQ(labels["namespace"], "shop");
  EXPECT_EQ(labels["pod"], "api-0");
  EXPECT_EQ(labels["runtime_handler"], "kata-cc");
  EXPECT_EQ(labels["job"], "uvm-sizer");

  auto memory = prometheus_->QueryUntil(R"(uvm_sizer_pod_uvm_memory_bytes{uid="it-web"})", NonEmpty);
  ASSERT_EQ(memory.size(), 1u);
  EXPECT_EQ(ValueOf(memory[0]), 2304.0 * kMib);
  auto shortfall =
      prometheus_->QueryUntil(R"(pod:uvm_sizer_overhead_shortfall_bytes{uid="it-web"})", NonEmpty);
  ASSERT_EQ(shortfall.size(), 1u) << "recording rule did not evaluate";
  EXPECT_EQ(ValueOf(shortfall[0]), 152.0 * kMib);

  // Unlimited cgroup: no limit series; usage is there.
  EXPECT_THAT(prometheus_->QueryUntil(R"(uvm_sizer_pod_cgroup_memory_limit_bytes{uid="it-web"})", Empty),
              IsEmpty());
  auto usage = prometheus_->QueryUntil(R"(uvm_sizer_pod_cgroup_memory_usage_bytes{uid="it-web"})", NonEmpty);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(ValueOf(usage[0]), 300.0 * kMib);

  // The runc pod: cgroup series only.
  auto runc = prometheus_->QueryUntil(R"({__name__=~"uvm_sizer_.*",uid="it-runc"})",
                                      [](const json& v) { return v.size() >= 2; });
  std::set<std::string> names;
  for (const auto& s : runc) names.insert(s["metric"]["__name__"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"uvm_sizer_pod_cgroup_memory_limit_bytes",
                                          "uvm_sizer_pod_cgroup_memory_usage_bytes"}));

  auto info = prometheus_->QueryUntil(R"(uvm_sizer_build_info{version="it-1.0"})", NonEmpty);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(ValueOf(info[0]), 1);
  auto cri = prometheus_->QueryUntil("uvm_sizer_cri_up == 1", NonEmpty);
  EXPECT_EQ(cri.size(), 1u);
  auto writes = prometheus_->QueryUntil(R"(uvm_sizer_cgroup_writes_total{result="ok"} >= 1)", NonEmpty);
  EXPECT_EQ(writes.size(), 1u);
  auto p50 = prometheus_->QueryUntil(
      "histogram_quantile(0.5, uvm_sizer_reconcile_duration_seconds_bucket) > 0", NonEmpty);
  ASSERT_EQ(p50.size(), 1u);
  EXPECT_GT(ValueOf(p50[0]), 0.0025);  // the only observation, 3 ms, lies in the 2.5-5 ms bucket
  EXPECT_LE(ValueOf(p50[0]), 0.005);
}

TEST_F(MetricsPrometheusTest, HostileLabelValuesSurviveTheScrape) {
  std::string hostile = "evil\"pod\\name\nwith} newlines=\"1\" # TYPE x counter\n\\n\\\"";
  while (hostile.size() < 10 * 1024) hostile += "0123456789abcdef\"\\\n";
  std::string with_bad_utf8 = hostile + "\xFF\xC3";
  metrics_->UpsertPod({"ns\"\n", with_bad_utf8, "it-evil", "kata\\"}, VmSizing());

  auto found = prometheus_->QueryUntil(R"(uvm_sizer_pod_uvm_vcpus{uid="it-evil"})", NonEmpty);
  ASSERT_EQ(found.size(), 1u) << "the hostile pod never arrived; scrape broken?\n"
                              << prometheus_->Get("/api/v1/targets")->dump();
  // Prometheus stored exactly the original text; only the invalid UTF-8 bytes became U+FFFD.
  EXPECT_EQ(found[0]["metric"]["pod"].get<std::string>(), hostile + "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(found[0]["metric"]["namespace"], "ns\"\n");
  EXPECT_EQ(found[0]["metric"]["runtime_handler"], "kata\\");
  // Nothing was injected, and the whole scrape stays healthy.
  EXPECT_THAT(prometheus_->QueryUntil(R"({__name__="x"})", Empty), IsEmpty());
  auto up = prometheus_->QueryUntil(R"(up{job="uvm-sizer"})", NonEmpty);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(ValueOf(up[0]), 1);
  auto targets = prometheus_->Get("/api/v1/targets");
  ASSERT_TRUE(targets.ok());
  const json& active = (*targets)["data"]["activeTargets"];
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0]["health"], "up");
  EXPECT_EQ(active[0]["lastError"], "");
  metrics_->RemovePod("it-evil");
}

TEST_F(MetricsPrometheusTest, RemovedPodSeriesGoStale) {
  PodPressureMetrics pressure;
  pressure.guest_memory_available_bytes = 700 * kMib;
  pressure.guest_filesystem_bytes = {{"/run", 10 * kMib}};
  pressure.memory_growth_bytes_per_second = {{"logs", 4096}};
  pressure.memory_exhaustion_seconds = 3600;
  pressure.pressure_level = 0;
  metrics_->UpsertPod({"shop", "gone-0", "it-gone", "kata"}, VmSizing());
  metrics_->UpsertPodPressure({"shop", "gone-0", "it-gone", "kata"}, pressure);
  metrics_->UpsertPod({"shop", "stay-0", "it-stay", "kata"}, VmSizing());

  auto before =
      prometheus_->QueryUntil(R"(count({__name__=~"uvm_sizer_pod_.*",uid="it-gone"}))", [](const json& v) {
        return NonEmpty(v) && ValueOf(v[0]) == 12;  // 6 sizing (no limit) + 6 pressure series
      });
  ASSERT_EQ(before.size(), 1u) << before.dump();
  ASSERT_EQ(ValueOf(before[0]), 12);

  metrics_->RemovePod("it-gone");
  // Prometheus writes staleness markers when a series vanishes from a scrape: it is gone at once, not
  // 5 minutes later.
  auto after = prometheus_->QueryUntil(R"({__name__=~"uvm_sizer_.*",uid="it-gone"})", Empty);
  EXPECT_THAT(after, IsEmpty()) << after.dump();
  auto other = prometheus_->QueryUntil(R"(uvm_sizer_pod_uvm_vcpus{uid="it-stay"})", NonEmpty);
  EXPECT_EQ(other.size(), 1u);
}

TEST_F(MetricsPrometheusTest, ShippedRulesAreHealthyAndThePressureAlertFires) {
  PodPressureMetrics hot;
  hot.guest_memory_available_bytes = 40 * kMib;
  hot.memory_growth_bytes_per_second = {{"filesystem", 0.5 * kMib}};
  hot.memory_exhaustion_seconds = 95;
  hot.pressure_level = 2;
  metrics_->UpsertPodPressure({"batch", "etl-7", "it-hot", "kata-cc"}, hot);

  // Every rule of the file is loaded and evaluates without error (most have no input here: they must still
  // parse and run).
  const RulesFile shipped = ReadRulesFile();
  ASSERT_GE(shipped.alerts.size(), 8u);
  const std::set<std::string>& expected_alerts = shipped.alerts;
  json groups;
  std::set<std::string> alerts, unhealthy;
  size_t records = 0;
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  do {
    auto r = prometheus_->Get("/api/v1/rules");
    ASSERT_TRUE(r.ok()) << r.error().message;
    groups = (*r)["data"]["groups"];
    alerts.clear();
    unhealthy.clear();
    records = 0;
    for (const auto& g : groups) {
      for (const auto& rule : g["rules"]) {
        if (rule["type"] == "alerting") alerts.insert(rule["name"].get<std::string>());
        if (rule["type"] == "recording") ++records;
        if (rule["health"] != "ok") {
          unhealthy.insert(rule["name"].get<std::string>() + ": " + rule["health"].get<std::string>() + " " +
                           rule.value("lastError", ""));
        }
      }
    }
    if (unhealthy.empty() && alerts == expected_alerts) break;
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(groups.size(), shipped.groups);
  EXPECT_EQ(alerts, expected_alerts);
  EXPECT_EQ(records, shipped.records);
  EXPECT_THAT(unhealthy, IsEmpty());

  // The critical-pressure alert fires for the hot pod, and its description carries the prediction.
  json firing;
  deadline = std::chrono::steady_clock::now() + kPatience;
  while (firing.is_null() && std::chrono::steady_clock::now() < deadline) {
    auto r = prometheus_->Get("/api/v1/alerts");
    ASSERT_TRUE(r.ok()) << r.error().message;
    for (const auto& a : (*r)["data"]["alerts"]) {
      if (a["labels"]["alertname"] == "UvmSizerPodMemoryPressureCritical" && a["labels"]["uid"] == "it-hot" &&
          a["state"] == "firing") {
        firing = a;
      }
    }
    if (firing.is_null()) std::this_thread::sleep_for(200ms);
  }
  ASSERT_FALSE(firing.is_null()) << "UvmSizerPodMemoryPressureCritical never fired for it-hot";
  EXPECT_EQ(firing["labels"]["severity"], "critical");
  EXPECT_EQ(firing["annotations"]["summary"], "VM pod batch/etl-7 is about to run out of memory");
  EXPECT_THAT(firing["annotations"]["description"].get<std::string>(),
              HasSubstr("Memory runs out in 1m 35s."));
  metrics_->RemovePod("it-hot");
}

// The endpoint itself, without Prometheus.
TEST(MetricsEndpoint, ServesExactlySerializeAsPrometheusText) {
  DaemonMetrics m("ep", "node-1");
  m.UpsertPod({"ns", "p", "u", "kata"}, {.vm_isolated = true, .uvm_vcpus = 2});
  ASSERT_TRUE(m.Listen("127.0.0.1:0").ok());
  ASSERT_EQ(m.ListeningPorts().size(), 1u);
  uint16_t port = m.ListeningPorts()[0];
  EXPECT_NE(port, 0);
  auto r = testing::HttpGet("127.0.0.1", port, "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r->body, m.Serialize());
  EXPECT_THAT(
      r->body,
      HasSubstr("uvm_sizer_pod_uvm_vcpus{namespace=\"ns\",pod=\"p\",uid=\"u\",runtime_handler=\"kata\","
                "node=\"node-1\"} 2\n"));
  auto other = testing::HttpGet("127.0.0.1", port, "/");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->status, 404);
}

TEST(MetricsEndpoint, ABusyPortIsAnErrorNamingTheAddress) {
  DaemonMetrics first("a", "node-1");
  ASSERT_TRUE(first.Listen("127.0.0.1:0").ok());
  std::string address = fmt::format("127.0.0.1:{}", first.ListeningPorts().at(0));
  DaemonMetrics second("b", "node-1");
  auto st = second.Listen(address);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("\"" + address + "\""));
  EXPECT_THAT(second.ListeningPorts(), IsEmpty());
  auto again = first.Listen("127.0.0.1:0");
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("already listening"));
}

// ---------------------------------------------------------------------------------------------------------
// Capacity end to end (issue 10): the real daemon binary watching pods of a private containerd, a small
// static kube-state-metrics exposition consistent with those pods (same uid, namespace, name and node), and
// a real Prometheus scraping both with the shipped rules. Every query of the generated dashboard must
// return data; Prometheus's own graph page of the fit and gap series is screenshot with headless Chromium.

// A fixed text exposition answering every GET (HTTP/1.1, one request per connection) on 127.0.0.1:<port> or
// on a unix socket, served by a thread of its own until the object goes: the stand-in for kube-state-metrics
// and for a Kata shim's monitor endpoint.
class StaticExposition {
 public:
  ~StaticExposition() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  }
  // `body` is called for every request, on the server thread.
  Status Start(std::function<std::string()> body) {
    body_ = std::move(body);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return Error{fmt::format("bind/listen 127.0.0.1:0: {}", std::strerror(errno))};
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
    return {};
  }
  Status StartUnix(const std::string& path, std::function<std::string()> body) {
    body_ = std::move(body);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
      return Error{fmt::format("{}: too long for a unix socket", path)};
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 16) != 0) {
      return Error{fmt::format("bind/listen {}: {}", path, std::strerror(errno))};
    }
    unix_path_ = path;
    thread_ = std::thread([this] { Serve(); });
    return {};
  }
  uint16_t port() const { return port_; }
  int scrapes() const { return scrapes_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const std::string body = body_();
      std::string response = fmt::format(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: "
          "{}\r\nConnection: close\r\n\r\n{}",
          body.size(), body);
      for (size_t off = 0; off < response.size();) {
        ssize_t n = ::write(c, response.data() + off, response.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(c);
      if (request.rfind("GET /metrics", 0) == 0) ++scrapes_;
    }
  }

  std::function<std::string()> body_;
  std::string unix_path_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> scrapes_{0};
  std::thread thread_;
};

std::string Hostname() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

// A regex matching exactly `text` (Grafana escapes a variable's value the same way for =~).
std::string RegexQuote(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::strchr(R"(\.+*?()|[]{}^$)", c)) out += '\\';
    out += c;
  }
  return out;
}

// What kube-state-metrics would say about one of our pods.
struct KsmPod {
  const uvm::testing::Pod* pod = nullptr;  // nullptr: a pod that is not on containerd (finished)
  std::string name, uid, phase = "Running";
  int64_t memory_request_bytes = 0;
  double cpu_request_cores = 0;
  std::optional<int64_t> overhead_memory_bytes;
  std::optional<double> overhead_cpu_cores;
};

std::string KsmExposition(const std::string& node, const std::vector<KsmPod>& pods) {
  std::string out =
      "# HELP kube_node_status_allocatable The allocatable for different resources of a node that are "
      "available for scheduling.\n# TYPE kube_node_status_allocatable gauge\n";
  // The same allocatable the daemon is configured with (its [capacity] overrides).
  out += fmt::format(
      "kube_node_status_allocatable{{node=\"{0}\",resource=\"memory\",unit=\"byte\"}} {1}\n"
      "kube_node_status_allocatable{{node=\"{0}\",resource=\"cpu\",unit=\"core\"}} 8\n"
      "kube_node_status_allocatable{{node=\"{0}\",resource=\"pods\",unit=\"integer\"}} 110\n",
      node, 16 * 1024 * kMib);
  std::string info = "# TYPE kube_pod_info gauge\n", phase = "# TYPE kube_pod_status_phase gauge\n",
              requests = "# TYPE kube_pod_container_resource_requests gauge\n",
              overhead_memory = "# TYPE kube_pod_overhead_memory_bytes gauge\n",
              overhead_cpu = "# TYPE kube_pod_overhead_cpu_cores gauge\n";
  for (const auto& p : pods) {
    std::string pod_labels = fmt::format(R"(namespace="default",pod="{}",uid="{}")", p.name, p.uid);
    info +=
        fmt::format("kube_pod_info{{{},node=\"{}\",host_ip=\"127.0.0.1\",created_by_kind=\"<none>\"}} 1\n",
                    pod_labels, node);
    for (const char* ph : {"Pending", "Running", "Succeeded", "Failed", "Unknown"}) {
      phase +=
          fmt::format("kube_pod_status_phase{{{},phase=\"{}\"}} {}\n", pod_labels, ph, p.phase == ph ? 1 : 0);
    }
    requests += fmt::format(
        "kube_pod_container_resource_requests{{{0},node=\"{1}\",container=\"app\",resource=\"memory\","
        "unit=\"byte\"}} {2}\n"
        "kube_pod_container_resource_requests{{{0},node=\"{1}\",container=\"app\",resource=\"cpu\","
        "unit=\"core\"}} {3}\n",
        pod_labels, node, p.memory_request_bytes, p.cpu_request_cores);
    if (p.overhead_memory_bytes)
      overhead_memory +=
          fmt::format("kube_pod_overhead_memory_bytes{{{}}} {}\n", pod_labels, *p.overhead_memory_bytes);
    if (p.overhead_cpu_cores)
      overhead_cpu +=
          fmt::format("kube_pod_overhead_cpu_cores{{{}}} {}\n", pod_labels, *p.overhead_cpu_cores);
  }
  return out + info + phase + requests + overhead_memory + overhead_cpu;
}

// What a Kata shim's monitor endpoint serves for a guest of `total` bytes with `available` of it available
// (the families the daemon reads: guest/shim_metrics.h; rendered as in guest_shim_monitor_test.cc).
// `scratch_used` bytes of it written to a guest-tmpfs scratch mount (in shmem, gone from MemAvailable).
std::string GuestExposition(int64_t total, int64_t available, int64_t scratch_used) {
  std::string out =
      "# HELP kata_guest_meminfo Statistics about memory usage in the system.\n# TYPE kata_guest_meminfo "
      "gauge\n";
  for (auto [item, v] : {std::pair{"mem_total", total}, std::pair{"mem_free", available - 20 * kMib},
                         std::pair{"mem_available", available}, std::pair{"cached", 30 * kMib + scratch_used},
                         std::pair{"anon_pages", total - available - 30 * kMib - scratch_used},
                         std::pair{"shmem", 4 * kMib + scratch_used}}) {
    out += fmt::format("kata_guest_meminfo{{item=\"{}\"}} {}\n", item, v);
  }
  out += "# HELP kata_guest_vm_stat Guest virtual memory statistics.\n# TYPE kata_guest_vm_stat gauge\n";
  out +=
      fmt::format("kata_guest_vm_stat{{item=\"nr_shmem\"}} {}\nkata_guest_vm_stat{{item=\"oom_kill\"}} 0\n",
                  (4 * kMib + scratch_used) / 4096);
  out += "# HELP kata_guest_filesystem_bytes Guest filesystem space usage in bytes.\n";
  out += "# TYPE kata_guest_filesystem_bytes gauge\n";
  auto fs = [&](const char* mount, const char* device, int64_t size, int64_t used) {
    for (auto [item, v] :
         {std::pair{"total", size}, std::pair{"used", used}, std::pair{"available", size - used}})
      out += fmt::format("kata_guest_filesystem_bytes{{mount=\"{}\",device=\"{}\",item=\"{}\"}} {}\n", mount,
                         device, item, v);
  };
  fs("/", "vda1", 256 * kMib, 180 * kMib);
  fs("/run/kata-containers/sandbox/ephemeral/scratch", "overlay", 1024 * kMib, scratch_used);
  return out;
}

// The shape the daemon sizes: a kata-cc pod of the RuntimeClass in the same file (podFixed 160Mi, 250m).
// Its scheduler need: 512Mi + 160Mi of memory, 500m + 250m of CPU.
constexpr const char* kWebShape = R"(apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: kata-cc-isolation
handler: kata-cc
overhead:
  podFixed:
    memory: 160Mi
    cpu: 250m
---
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  runtimeClassName: kata-cc-isolation
  containers:
    - name: app
      image: example/web:1
      resources:
        requests:
          cpu: 500m
          memory: 512Mi
        limits:
          cpu: "1"
          memory: 1Gi
)";

// Dashboard panel queries that may legitimately return nothing here, keyed "<panel title>/<refId>", with
// the reason. Every other query must return data.
const std::map<std::string, std::string>& MayBeEmpty() {
  static const std::map<std::string, std::string> reasons{
      {"Errors and cgroup writes/A",
       "uvm_sizer_errors_total{cause} has a series only once an error of that cause happened; none does "
       "here"},
      {"Kata shim create p50 / p90 per handler/A", "no Kata shim here (runc underneath)"},
      {"Kata shim create p50 / p90 per handler/B", "no Kata shim here (runc underneath)"},
      {"Starts not profiled/A",
       "uvm_sizer_sandbox_start_skipped_total{reason} has a series only once a start "
       "was skipped"},

  };
  return reasons;
}

class CapacityEndToEnd : public uvm::testing::ContainerdTest {
 protected:
  static void SetUpTestSuite() {
    uvm::testing::ContainerdTest::SetUpTestSuite();
    setup_error_ = Prepare();
  }
  static void TearDownTestSuite() {
    prometheus_.reset();
    ksm_.reset();
    daemon_.reset();
    shims_.clear();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    if (!sbs_dir_.empty()) std::filesystem::remove_all(sbs_dir_, ec);
    uvm::testing::ContainerdTest::TearDownTestSuite();
  }
  void SetUp() override {
    uvm::testing::ContainerdTest::SetUp();
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }
  void TearDown() override {
    if (HasFailure() && prometheus_)
      std::cerr << "prometheus log (tail):\n" << prometheus_->LogTail() << "\n";
    if (HasFailure() && daemon_) {
      std::string log = daemon_->Log();
      std::cerr << "daemon log (tail):\n"
                << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
    }
  }

  // Pods, daemon, kube-state-metrics stand-in and Prometheus; "" or what failed.
  static std::string Prepare() {
    char tmpl[] = "/tmp/uvm-capacity-e2e-XXXXXX";
    if (!::mkdtemp(tmpl)) return "mkdtemp failed";
    dir_ = tmpl;
    std::ofstream(dir_ + "/shapes.yaml") << kWebShape;
    auto& ctrd = containerd();
    // The kata-cc pod of CRI.md §4.3 (limits 1.5 CPU / 512 MiB, overhead 250m / 160 MiB), a kata pod and a
    // runc pod: what the kubelet sends over CRI.
    static uvm::testing::Pod web, batch, plain;
    auto created = ctrd.CreatePod({.name = "web-vm",
                                   .handler = "kata-cc",
                                   .resources = cri::LinuxResources{100000, 150000, 1536, 512 * kMib},
                                   .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}});
    if (!created) return "kata-cc pod: " + created.error().message;
    web = *created;
    created = ctrd.CreatePod({.name = "batch-vm",
                              .handler = "kata",
                              .resources = cri::LinuxResources{100000, 100000, 1024, 256 * kMib},
                              .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}});
    if (!created) return "kata pod: " + created.error().message;
    batch = *created;
    created = ctrd.CreatePod({.name = "plain",
                              .handler = "runc",
                              .resources = cri::LinuxResources{100000, 50000, 512, 128 * kMib}});
    if (!created) return "runc pod: " + created.error().message;
    plain = *created;

    node_ = Hostname();  // the daemon's node name without [node] name: what the kubelet registers
    // Requests as the API server has them (≤ the limits CRI carried), overhead = the RuntimeClass's
    // podFixed; a Succeeded pod that holds nothing any more.
    ksm_pods_ = {
        {.pod = &web,
         .name = web.spec.name,
         .uid = web.uid,
         .memory_request_bytes = 384 * kMib,
         .cpu_request_cores = 1.5,
         .overhead_memory_bytes = 160 * kMib,
         .overhead_cpu_cores = 0.25},
        {.pod = &batch,
         .name = batch.spec.name,
         .uid = batch.uid,
         .memory_request_bytes = 256 * kMib,
         .cpu_request_cores = 1,
         .overhead_memory_bytes = 160 * kMib,
         .overhead_cpu_cores = 0.25},
        {.pod = &plain,
         .name = plain.spec.name,
         .uid = plain.uid,
         .memory_request_bytes = 128 * kMib,
         .cpu_request_cores = 0.5},
        {.name = "report-done",
         .uid = "it-done-" + std::to_string(::getpid()),
         .phase = "Succeeded",
         .memory_request_bytes = 4096 * kMib,
         .cpu_request_cores = 2},
    };
    // Stand-ins for the Kata shims' monitor endpoints (no real Kata here). The kata-cc guest has plenty of
    // memory. The kata guest has 48 MiB of 2 GiB left (2.3 %, below the critical 3 %:
    // pressure.critical_available_fraction) and its scratch mount fills at 256 KiB/s, down to 8 MiB left,
    // so the daemon predicts the time left. A short dir of its own: a unix socket path has 107 bytes, a
    // sandbox id takes 64.
    sbs_dir_ = "/tmp/uvm-sbs-" + std::to_string(::getpid());
    const auto start = std::chrono::steady_clock::now();
    auto filling = [start] {
      auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      int64_t scratch = std::min<int64_t>(static_cast<int64_t>(seconds * 256 * 1024), 40 * kMib);
      return GuestExposition(2048 * kMib, 48 * kMib - scratch, scratch);
    };
    for (auto [pod, body] : {std::pair<uvm::testing::Pod*, std::function<std::string()>>{
                                 &web, [] { return GuestExposition(2560 * kMib, 2300 * kMib, 0); }},
                             std::pair<uvm::testing::Pod*, std::function<std::string()>>{&batch, filling}}) {
      shims_.push_back(std::make_unique<StaticExposition>());
      auto st = shims_.back()->StartUnix(sbs_dir_ + "/" + pod->sandbox_id + "/shim-monitor.sock", body);
      if (!st) return "shim monitor: " + st.error().message;
    }
    ksm_ = std::make_unique<StaticExposition>();
    if (auto st = ksm_->Start([body = KsmExposition(node_, ksm_pods_)] { return body; }); !st)
      return st.error().message;

    auto daemon = uvm::testing::DaemonProcess::Start(
        {.cri_endpoint = ctrd.endpoint(),
         .kubelet_cgroup_root = ctrd.kubelet_cgroup_root(),
         .extra_toml =
             fmt::format("[capacity]\nshapes = [\"{}/shapes.yaml\"]\nallocatable_memory = \"16Gi\"\n"
                         "allocatable_cpu = \"8\"\nallocatable_pods = 110\n"
                         "[pressure]\nshim_monitor_dir = \"{}\"\ninterval = \"1s\"\n",
                         dir_, sbs_dir_)});
    if (!daemon) return "daemon: " + daemon.error().message;
    daemon_ = std::move(*daemon);

    prometheus_ = std::make_unique<RulesPrometheus>();
    if (auto st = prometheus_->Start(
            {{"uvm-sizer", daemon_->metrics_port()}, {"kube-state-metrics", ksm_->port()}});
        !st) {
      return "prometheus: " + st.error().message;
    }
    // The startup profile counts only pods started while the daemon runs: two runc pods (not in the KSM
    // stand-in, so the scheduler view is unchanged), the second once Prometheus has scraped the first's
    // series, so its rates are not 0.
    for (const char* name : {"start-1", "start-2"}) {
      static std::vector<uvm::testing::Pod> started;
      auto pod = ctrd.CreatePod({.name = name, .handler = "runc"});
      if (!pod) return std::string(name) + ": " + pod.error().message;
      started.push_back(*pod);
      if (auto c = ctrd.StartContainer(started.back(), "app"); !c)
        return std::string(name) + ": " + c.error().message;
      if (prometheus_
              ->QueryUntil("uvm_sizer_sandbox_start_seconds_count{runtime_handler=\"runc\"} >= " +
                               std::to_string(started.size()),
                           NonEmpty)
              .empty())
        return std::string(name) + ": its start never reached Prometheus";
    }
    return "";
  }

  // Grafana's variables as a user picks them: this node, everything else "All".
  static std::string Substitute(std::string expr) {
    const std::vector<std::pair<std::string, std::string>> variables{
        {"$__rate_interval", "1m"}, {"$cluster", ".*"},         {"$node", RegexQuote(node_)},
        {"$namespace", ".*"},       {"$runtime_handler", ".*"}, {"$shape", ".*"}};
    for (const auto& [name, value] : variables) {
      for (size_t pos; (pos = expr.find(name)) != std::string::npos;) expr.replace(pos, name.size(), value);
    }
    return expr;
  }

  std::string Sel() const { return fmt::format(R"(node="{}")", node_); }

  static inline std::string setup_error_, dir_, sbs_dir_, node_;
  static inline std::vector<std::unique_ptr<StaticExposition>> shims_;
  static inline std::vector<KsmPod> ksm_pods_;
  static inline std::unique_ptr<uvm::testing::DaemonProcess> daemon_;
  static inline std::unique_ptr<StaticExposition> ksm_;
  static inline std::unique_ptr<RulesPrometheus> prometheus_;
};

TEST_F(CapacityEndToEnd, BothViewsFitAndGapComeFromTheDaemonAndKubeStateMetrics) {
  auto gap = prometheus_->QueryUntil("node_shape:uvm_sizer_fit_gap_pods{" + Sel() + "}", NonEmpty);
  ASSERT_EQ(gap.size(), 1u) << "no gap recorded; targets:\n" << prometheus_->Get("/api/v1/targets")->dump(1);
  EXPECT_GT(ksm_->scrapes(), 0);

  // Scheduler view: exactly the requests + overhead of the three Running pods; the Succeeded one is out.
  auto committed = prometheus_->QueryUntil(
      "node:uvm_sizer_committed_memory_bytes:sum{view=\"scheduler\"," + Sel() + "}", NonEmpty);
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(ValueOf(committed[0]), (384 + 160 + 256 + 160 + 128) * kMib);
  auto cpu = prometheus_->QueryUntil(
      "node:uvm_sizer_committed_cpu_cores:sum{view=\"scheduler\"," + Sel() + "}", NonEmpty);
  ASSERT_EQ(cpu.size(), 1u);
  EXPECT_DOUBLE_EQ(ValueOf(cpu[0]), 1.5 + 0.25 + 1 + 0.25 + 0.5);

  // Scheduler fit of "web" (672 MiB, 0.75 CPU): memory (16384 - 1088) / 672 = 22, CPU (8 - 3.5) / 0.75 = 6.
  auto scheduler_fit = prometheus_->QueryUntil(
      "node_shape:uvm_sizer_fit_pods{shape=\"web\",view=\"scheduler\"," + Sel() + "}", NonEmpty);
  ASSERT_EQ(scheduler_fit.size(), 1u);
  EXPECT_EQ(ValueOf(scheduler_fit[0]), 6);

  // Host view: the daemon's own ledger, unchanged by the rules; the gap is the difference and positive
  // (a kata-cc UVM costs the host far more than its requests + podFixed).
  auto daemon_fit = daemon_->Value("uvm_sizer_node_fit_pods", {{"shape", "web"}, {"view", "host"}});
  ASSERT_TRUE(daemon_fit.has_value()) << daemon_->Log();
  auto host_fit =
      prometheus_->QueryUntil("node_shape:uvm_sizer_fit_pods{shape=\"web\",view=\"host\"," + Sel() + "}",
                              [&](const json& v) { return NonEmpty(v) && ValueOf(v[0]) == *daemon_fit; });
  ASSERT_EQ(host_fit.size(), 1u);
  EXPECT_EQ(ValueOf(host_fit[0]), *daemon_fit);
  // Read again: the host view follows the pods' cgroup usage, so the gap is compared with the same host fit.
  const double expected_gap = ValueOf(scheduler_fit[0]) - *daemon_fit;
  gap = prometheus_->QueryUntil("node_shape:uvm_sizer_fit_gap_pods{" + Sel() + "}",
                                [&](const json& v) { return NonEmpty(v) && ValueOf(v[0]) == expected_gap; });
  ASSERT_EQ(gap.size(), 1u);
  EXPECT_EQ(ValueOf(gap[0]), expected_gap);
  EXPECT_GT(ValueOf(gap[0]), 0);
  std::cout << fmt::format("[ measure  ] shape web on {}: scheduler fit {}, host fit {}, gap {}\n", node_,
                           ValueOf(scheduler_fit[0]), *daemon_fit, ValueOf(gap[0]));
}

// The alerts on real data: critical guest pressure fires at once for the kata pod; the gap and the kata-cc
// RuntimeClass's shortfall are pending (their `for` is 10 and 15 minutes); no target is down.
TEST_F(CapacityEndToEnd, AlertsOnTheLiveNodeArePendingOrFiring) {
  const std::string batch_uid = ksm_pods_.at(1).uid;
  std::map<std::string, std::string> state;  // "<alertname> <distinguishing label>" -> state
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  auto have_all = [&] {
    return state["UvmSizerPodMemoryPressureCritical " + batch_uid] == "firing" &&
           state["UvmSizerSchedulerOvercommit web"] == "pending" &&
           state["UvmSizerRuntimeClassOverheadTooLow kata-cc"] == "pending";
  };
  json alerts;
  while (!have_all() && std::chrono::steady_clock::now() < deadline) {
    auto r = prometheus_->Get("/api/v1/alerts");
    ASSERT_TRUE(r.ok()) << r.error().message;
    alerts = (*r)["data"]["alerts"];
    state.clear();
    for (const auto& a : alerts) {
      const json& l = a["labels"];
      std::string key = l["alertname"].get<std::string>() + " " +
                        l.value("uid", l.value("shape", l.value("runtime_handler", l.value("instance", ""))));
      state[key] = a["state"].get<std::string>();
    }
    if (!have_all()) std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(state["UvmSizerPodMemoryPressureCritical " + batch_uid], "firing") << alerts.dump(1);
  EXPECT_EQ(state["UvmSizerSchedulerOvercommit web"], "pending") << alerts.dump(1);
  EXPECT_EQ(state["UvmSizerRuntimeClassOverheadTooLow kata-cc"], "pending") << alerts.dump(1);
  for (const auto& [key, st] : state) EXPECT_NE(key.rfind("UvmSizerTargetDown", 0), 0u) << key << " " << st;
  for (const auto& a : alerts) {
    const std::string url = a["annotations"].value("runbook_url", "");
    EXPECT_THAT(url, HasSubstr("/docs/runbooks/" + a["labels"]["alertname"].get<std::string>() + ".md"));
  }
}

// Every query of the generated dashboard, with the variables a user would pick, returns data from the real
// Prometheus (except the few listed in MayBeEmpty, which must still run).
TEST_F(CapacityEndToEnd, EveryDashboardQueryReturnsData) {
  ASSERT_FALSE(prometheus_->QueryUntil("node_shape:uvm_sizer_fit_gap_pods", NonEmpty).empty());
  // rate() and increase() over 1m need two scrapes of every counter: the ledger is there, so wait a little.
  prometheus_->QueryUntil("count_over_time(uvm_sizer_cri_up[1m]) >= 5", NonEmpty);
  std::ifstream in(UVM_DASHBOARD_FILE);
  ASSERT_TRUE(in) << UVM_DASHBOARD_FILE;
  json dashboard = json::parse(in);
  size_t queries = 0, with_data = 0;
  std::vector<std::string> empty_as_expected;
  std::set<std::string> keys;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", json::array())) {
      const std::string key = panel["title"].get<std::string>() + "/" + target["refId"].get<std::string>();
      ASSERT_TRUE(keys.insert(key).second) << key << ": two panels of one title (MayBeEmpty is keyed by it)";
      const std::string expr = Substitute(target["expr"]);
      ASSERT_EQ(expr.find('$'), std::string::npos) << key << ": unsubstituted Grafana variable in " << expr;
      ++queries;
      auto reason = MayBeEmpty().find(key);
      if (reason != MayBeEmpty().end()) {
        auto r = prometheus_->Get("/api/v1/query?query=" + testing::UrlEncode(expr));
        ASSERT_TRUE(r.ok()) << key << ": " << r.error().message;
        EXPECT_EQ((*r)["status"], "success") << key << ": " << expr << "\n" << r->dump();
        if ((*r)["data"]["result"].empty()) {
          empty_as_expected.push_back(key + " (" + reason->second + ")");
        } else {
          ++with_data;
        }
        continue;
      }
      auto result = prometheus_->QueryUntil(expr, NonEmpty);
      EXPECT_FALSE(result.empty()) << key << " returned no data: " << expr;
      if (!result.empty()) ++with_data;
    }
  }
  EXPECT_GE(queries, 40u);
  std::cout << fmt::format("[ measure  ] {} dashboard queries, {} with data; empty as expected:\n", queries,
                           with_data);
  for (const auto& e : empty_as_expected) std::cout << "               " << e << "\n";
}

// Prometheus's classic graph page (Debian's package ships it at /classic/graph) of the fit and gap series,
// screenshot by headless Chromium into the build dir: a picture a reviewer can look at.
TEST_F(CapacityEndToEnd, HeadlessChromiumScreenshotsTheFitAndGapGraphs) {
  ASSERT_TRUE(std::filesystem::exists(UVM_CHROMIUM_BIN))
      << "chromium not found (" << UVM_CHROMIUM_BIN << "): install the Debian package chromium "
      << "(scripts/install-deps.sh)";
  ASSERT_FALSE(prometheus_->QueryUntil("node_shape:uvm_sizer_fit_gap_pods", NonEmpty).empty());
  // Some history, so the graph shows lines rather than points.
  prometheus_->QueryUntil("count_over_time(node_shape:uvm_sizer_fit_gap_pods[5m]) >= 20", NonEmpty);
  std::string url = fmt::format("http://127.0.0.1:{}/classic/graph?", prometheus_->port());
  const std::vector<std::string> graphs{"node_shape:uvm_sizer_fit_pods", "node_shape:uvm_sizer_fit_gap_pods"};
  for (size_t i = 0; i < graphs.size(); ++i) {
    url += fmt::format("{}g{}.expr={}&g{}.tab=0&g{}.range_input=1m", i ? "&" : "", i,
                       testing::UrlEncode(graphs[i]), i, i);
  }
  std::filesystem::create_directories(UVM_TEST_ARTIFACTS_DIR);
  // One page into one PNG of 1400 x 1700 pixels, checked: a PNG signature and that size in its IHDR chunk.
  auto screenshot = [&](const std::string& page, const std::string& name) {
    const std::string png = std::string(UVM_TEST_ARTIFACTS_DIR) + "/" + name;
    std::filesystem::remove(png);
    auto run = testing::RunProcess({"/usr/bin/timeout", "120", UVM_CHROMIUM_BIN, "--headless=new",
                                    "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                    "--user-data-dir=" + dir_ + "/chromium", "--virtual-time-budget=10000",
                                    "--window-size=1400,1700", "--screenshot=" + png, page});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    std::ifstream image(png, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(image)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 10'000u) << png << " is (nearly) empty";
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png << " is not a PNG";
    auto be32 = [&](size_t at) {
      uint32_t v = 0;
      for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
      return v;
    };
    EXPECT_EQ(bytes.substr(12, 4), "IHDR");
    EXPECT_EQ(be32(16), 1400u);
    EXPECT_EQ(be32(20), 1700u);
    std::cout << "[ artifact ] " << png << " (" << bytes.size() << " bytes): " << page << "\n";
  };
  screenshot(url, "prometheus-fit-and-gap.png");
  // And the alerts page: the pending gap and shortfall alerts, the firing pressure alert.
  screenshot(fmt::format("http://127.0.0.1:{}/classic/alerts", prometheus_->port()), "prometheus-alerts.png");
}

}  // namespace
}  // namespace uvm::metrics
