// A real Prometheus scrapes DaemonMetrics every second and loads the shipped rules; the tests ask it, through
// its HTTP API, what it stored: values, hostile labels, series going stale, rule health, a firing alert.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "metrics/daemon_metrics.h"
#include "tests/support/http_client.h"

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

// A Prometheus in a temp dir of its own, killed and removed by the destructor, whatever happened.
class PrometheusProcess {
 public:
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool exited = false;
      for (int i = 0; i < 100 && !exited; ++i) {
        exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
        if (!exited) std::this_thread::sleep_for(50ms);
      }
      if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Starts Prometheus scraping 127.0.0.1:`target_port` every second with the rules file loaded.
  Status Start(uint16_t target_port) {
    char tmpl[] = "/tmp/uvm-metrics-prometheus-XXXXXX";
    if (!::mkdtemp(tmpl)) return Error{fmt::format("mkdtemp {}: {}", tmpl, std::strerror(errno))};
    dir_ = tmpl;
    auto port = testing::FreeLoopbackPort();
    if (!port) return port.error();
    port_ = *port;
    std::string config = dir_ + "/prometheus.yml";
    std::ofstream(config) << fmt::format(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "rule_files:\n"
        "  - {}\n"
        "scrape_configs:\n"
        "  - job_name: uvm-sizer\n"
        "    static_configs:\n"
        "      - targets: ['127.0.0.1:{}']\n",
        UVM_RULES_FILE, target_port);
    log_ = dir_ + "/prometheus.log";
    std::vector<std::string> args{
        UVM_PROMETHEUS_BIN, "--config.file=" + config, "--storage.tsdb.path=" + dir_ + "/data",
        fmt::format("--web.listen-address=127.0.0.1:{}", port_), "--log.level=info"};
    pid_t pid = ::fork();
    if (pid < 0) return Error{fmt::format("fork: {}", std::strerror(errno))};
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed or killed test
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (::chdir(dir_.c_str()) != 0) ::_exit(126);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    // Ready = TSDB open and rules loaded; a bind failure (port taken meanwhile) shows up as an exit.
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Error{fmt::format("prometheus exited early (status {}):\n{}", status, LogTail())};
      }
      auto r = testing::HttpGet("127.0.0.1", port_, "/-/ready", 2000);
      if (r && r->status == 200) return {};
      std::this_thread::sleep_for(100ms);
    }
    return Error{fmt::format("prometheus not ready on port {}:\n{}", port_, LogTail())};
  }

  uvm::Result<json> Get(const std::string& target) const {
    auto r = testing::HttpGet("127.0.0.1", port_, target);
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

  std::string LogTail() const {
    std::ifstream in(log_);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_, log_;
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

class MetricsPrometheusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    metrics_ = new DaemonMetrics("it-1.0", "it-node");
    auto st = metrics_->Listen("127.0.0.1:0");
    if (!st) {
      setup_error_ = st.error().message;
      return;
    }
    prometheus_ = new PrometheusProcess();
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
  static inline PrometheusProcess* prometheus_ = nullptr;
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

  // Every rule of the file is loaded and evaluates without error.
  const std::set<std::string> expected_alerts{"UvmSizerPodOverheadShortfall",
                                              "UvmSizerPodMemoryPressureCritical", "UvmSizerCriDown",
                                              "UvmSizerCgroupWriteErrors", "UvmSizerPodOomKilled"};
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
  EXPECT_EQ(groups.size(), 2u);
  EXPECT_EQ(alerts, expected_alerts);
  EXPECT_EQ(records, 9u);
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

// Every query of the shipped Grafana dashboard parses and runs on a real Prometheus, with Grafana's variables
// replaced by what a user would pick.
TEST_F(MetricsPrometheusTest, DashboardQueriesRunOnARealPrometheus) {
  metrics_->UpsertPod({"shop", "dash-0", "it-dash", "kata"}, VmSizing());
  std::ifstream in(UVM_DASHBOARD_FILE);
  ASSERT_TRUE(in) << UVM_DASHBOARD_FILE;
  json dashboard = json::parse(in);
  const std::vector<std::pair<std::string, std::string>> variables{{"$__rate_interval", "1m"},
                                                                   {"$namespace", ".*"},
                                                                   {"$node", ".*"},
                                                                   {"$shape_memory_bytes", "2684354560"},
                                                                   {"$shape_vcpus", "2"}};
  size_t queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel.value("targets", json::array())) {
      std::string expr = target["expr"];
      for (const auto& [name, value] : variables) {
        for (size_t pos; (pos = expr.find(name)) != std::string::npos;) expr.replace(pos, name.size(), value);
      }
      EXPECT_EQ(expr.find("$__"), std::string::npos) << "unsubstituted Grafana variable in: " << expr;
      auto r = prometheus_->Get("/api/v1/query?query=" + testing::UrlEncode(expr));
      ASSERT_TRUE(r.ok()) << panel["title"] << ": " << r.error().message;
      EXPECT_EQ((*r)["status"], "success") << panel["title"] << ": " << expr << "\n" << r->dump();
      ++queries;
    }
  }
  EXPECT_GE(queries, 20u);
  // The headline panel shows our pods.
  auto cost = prometheus_->QueryUntil(
      R"(sum by (namespace) (uvm_sizer_pod_host_memory_bytes{namespace=~".*",instance=~".*"}))", NonEmpty);
  EXPECT_FALSE(cost.empty());
  metrics_->RemovePod("it-dash");
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
      HasSubstr(
          "uvm_sizer_pod_uvm_vcpus{namespace=\"ns\",pod=\"p\",uid=\"u\",runtime_handler=\"kata\","
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

}  // namespace
}  // namespace uvm::metrics
