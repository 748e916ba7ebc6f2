// `uvm-sizer runtimeclass --from-prometheus` against a real Prometheus (Debian's prometheus 2.42): known
// samples are written as OpenMetrics, backfilled into a fresh TSDB with `promtool tsdb create-blocks-from
// openmetrics`, and Prometheus serves that TSDB. The CLI's recommendation must equal the pure recommender's
// on the same numbers (per-pod peaks), Prometheus's hostile values (NaN, +Inf, huge, negative) are refused
// per pod with a note, and Prometheus's own error answers come out as clear errors.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "sizer/recommend.h"
#include "tests/support/http_client.h"
#include "tests/support/prometheus_process.h"
#include "tests/support/subprocess.h"

namespace uvm::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kMib = 1 << 20;

// One pod's series: its UVM size (absent: no uvm_sizer_pod_uvm_memory_bytes) and its overhead over time.
struct PodSeries {
  std::string name, uid, handler, node;
  std::optional<int64_t> uvm_mib;
  std::vector<double> overhead;  // one value a minute
};

// The data set: kata-cc pods in two UVM buckets, one pod reported by two nodes (the same uid), pods whose
// values no recommender may use, a pod without a UVM series, and a kata pod the handler filter leaves out.
std::vector<PodSeries> DataSet() {
  std::vector<PodSeries> pods;
  auto ramp = [](double start_mib, double step_bytes) {
    std::vector<double> v;
    for (int k = 0; k < 10; ++k) v.push_back(start_mib * kMib + k * step_bytes);
    return v;
  };
  const double small[] = {101, 97, 120, 88, 110, 131, 104};
  for (int i = 0; i < 7; ++i) {
    pods.push_back({fmt::format("web-{}", i), fmt::format("uid-web-{}", i), "kata-cc", "node-a",
                    i % 2 ? 3000 : 2304, ramp(small[i], 4096.0 * (i + 1))});
  }
  // web-0 seen by a second node's daemon too, lower: the same pod, one sample.
  pods.push_back({"web-0", "uid-web-0", "kata-cc", "node-b", 2304, ramp(60, 0)});
  pods.push_back({"db-0", "uid-db-0", "kata-cc", "node-a", 6144, ramp(190, 1024)});
  pods.push_back({"db-1", "uid-db-1", "kata-cc", "node-a", 8192, ramp(205, 2048)});
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  pods.push_back({"lying-nan", "uid-nan", "kata-cc", "node-a", 2304, std::vector<double>(10, nan)});
  pods.push_back({"lying-inf", "uid-inf", "kata-cc", "node-a", 2304, std::vector<double>(10, inf)});
  pods.push_back({"lying-huge", "uid-huge", "kata-cc", "node-a", 2304, std::vector<double>(10, 1e300)});
  pods.push_back({"lying-negative", "uid-neg", "kata-cc", "node-a", 2304, std::vector<double>(10, -3e6)});
  pods.push_back({"no-uvm", "uid-no-uvm", "kata-cc", "node-a", std::nullopt, ramp(100, 0)});
  pods.push_back({"other-handler", "uid-kata", "kata", "node-a", 512, ramp(900, 0)});
  return pods;
}

std::string OpenMetricsValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// OpenMetrics text of the data set, a sample a minute ending `end_unix` seconds.
std::string OpenMetrics(const std::vector<PodSeries>& pods, int64_t end_unix) {
  std::string out;
  auto labels = [](const PodSeries& p) {
    return fmt::format("namespace=\"default\",pod=\"{}\",uid=\"{}\",runtime_handler=\"{}\",node=\"{}\"",
                       p.name, p.uid, p.handler, p.node);
  };
  out += "# TYPE uvm_sizer_pod_host_overhead_measured_bytes gauge\n";
  for (const auto& p : pods) {
    for (size_t k = 0; k < p.overhead.size(); ++k) {
      int64_t t = end_unix - static_cast<int64_t>((p.overhead.size() - 1 - k) * 60);
      out += fmt::format("uvm_sizer_pod_host_overhead_measured_bytes{{{}}} {} {}\n", labels(p),
                         OpenMetricsValue(p.overhead[k]), t);
    }
  }
  out += "# TYPE uvm_sizer_pod_uvm_memory_bytes gauge\n";
  for (const auto& p : pods) {
    if (!p.uvm_mib) continue;
    for (size_t k = 0; k < p.overhead.size(); ++k) {
      int64_t t = end_unix - static_cast<int64_t>((p.overhead.size() - 1 - k) * 60);
      out += fmt::format("uvm_sizer_pod_uvm_memory_bytes{{{}}} {} {}\n", labels(p), *p.uvm_mib * kMib, t);
    }
  }
  out += "# EOF\n";
  return out;
}

// What the CLI must compute from the data set: per pod (uid) of the handler, the peak overhead over the
// window (Prometheus's max_over_time; max ignores NaN unless all are NaN) with its UVM.
std::vector<sizer::OverheadSample> ExpectedSamples(const std::vector<PodSeries>& pods,
                                                   const std::string& handler) {
  std::map<std::string, sizer::OverheadSample> by_uid;
  for (const auto& p : pods) {
    if (p.handler != handler || !p.uvm_mib) continue;
    double peak = p.overhead.front();
    for (double v : p.overhead) peak = std::isnan(peak) || v > peak ? v : peak;
    auto [it, fresh] = by_uid.try_emplace(p.uid, sizer::OverheadSample{.handler = handler,
                                                                       .uvm_memory_mib = double(*p.uvm_mib),
                                                                       .host_overhead_bytes = peak,
                                                                       .pod_uid = p.uid,
                                                                       .pod = "default/" + p.name});
    if (!fresh) {
      it->second.host_overhead_bytes = std::max(it->second.host_overhead_bytes, peak);
      it->second.uvm_memory_mib = std::max(it->second.uvm_memory_mib, double(*p.uvm_mib));
    }
  }
  std::vector<sizer::OverheadSample> out;
  for (auto& [uid, s] : by_uid) out.push_back(s);
  return out;
}

// Starts `prometheus` on a TSDB backfilled from `openmetrics` (promtool tsdb create-blocks-from
// openmetrics): known samples at known times, nothing scraped.
Status StartBackfilled(PrometheusProcess& prometheus, const std::string& openmetrics) {
  UVM_TRY(prometheus.MakeDir("uvm-runtimeclass-prometheus"));
  const std::string& dir = prometheus.dir();
  std::ofstream(dir + "/samples.om") << openmetrics;
  auto backfill = RunProcess(
      {UVM_PROMTOOL_BIN, "tsdb", "create-blocks-from", "openmetrics", dir + "/samples.om", dir + "/data"});
  if (backfill.exit_code != 0)
    return Error{
        fmt::format("promtool backfill failed ({}): {}{}", backfill.exit_code, backfill.out, backfill.err)};
  return prometheus.Start(UVM_PROMETHEUS_BIN, "global:\n  scrape_interval: 15s\n", 45s);
}

ProcessResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), {UVM_SIZER_BIN, "runtimeclass"});
  return RunProcess(args);
}

class RuntimeClassPrometheus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prometheus_ = new PrometheusProcess();
    // The last sample ten minutes ago: inside a 7d window, outside a 5m one.
    auto st =
        StartBackfilled(*prometheus_, OpenMetrics(DataSet(), static_cast<int64_t>(std::time(nullptr)) - 600));
    if (!st) setup_error_ = st.error().message;
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    prometheus_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  void TearDown() override {
    if (HasFailure() && prometheus_) std::cerr << "prometheus log:\n" << prometheus_->LogTail() << '\n';
  }
  static PrometheusProcess* prometheus_;
  static std::string setup_error_;
};
PrometheusProcess* RuntimeClassPrometheus::prometheus_ = nullptr;
std::string RuntimeClassPrometheus::setup_error_;

TEST_F(RuntimeClassPrometheus, RecommendsWhatThePureRecommenderDoesOnTheSameNumbers) {
  auto samples = ExpectedSamples(DataSet(), "kata-cc");
  auto want = sizer::RecommendPodFixed(samples, {{"kata-cc", *sizer::FindBuiltinProfile("aks-kata-cc-2048")}},
                                       sizer::HostOverheadModel{});
  const auto& wh = want.handlers.at(0);
  ASSERT_EQ(wh.buckets.size(), 2u);  // the data set's two buckets, both measured
  ASSERT_TRUE(wh.buckets[1].measured);

  auto r =
      Cli({"--handler", "kata-cc", "--from-prometheus", prometheus_->url(), "--window", "7d", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  const json& rec = j["recommendation"];
  EXPECT_EQ(rec["pod_fixed_mib"], wh.pod_fixed_mib);
  EXPECT_EQ(j["runtimeclass"]["overhead"]["podFixed"]["memory"], fmt::format("{}Mi", wh.pod_fixed_mib));
  EXPECT_EQ(rec["binding_bucket_max_uvm_mib"], wh.buckets[wh.binding].max_uvm_mib);
  ASSERT_EQ(rec["buckets"].size(), wh.buckets.size());
  for (size_t i = 0; i < wh.buckets.size(); ++i) {
    const auto& w = wh.buckets[i];
    const json& got = rec["buckets"][i];
    EXPECT_EQ(got["max_uvm_mib"], w.max_uvm_mib);
    EXPECT_EQ(got["samples"], w.samples);
    EXPECT_EQ(got["pods"], w.pods);
    EXPECT_EQ(got["p95_bytes"], w.p95_bytes);
    EXPECT_EQ(got["margin_bytes"], w.margin_bytes);
    EXPECT_EQ(got["pod_fixed_mib"], w.pod_fixed_mib);
  }
  // The small bucket: web-0..6 (web-0 once, though two nodes reported it); p95 of 7 is the largest, web-5's
  // peak 131 MiB + 9 · 24 KiB.
  EXPECT_EQ(rec["buckets"][0]["pods"], 7);
  EXPECT_EQ(rec["buckets"][0]["p95_bytes"], 131 * kMib + 9 * 4096 * 6);
  EXPECT_EQ(rec["samples_used"], 9);

  // The YAML says the same, and why: bucket, p95, margin, counts, window, and each refused pod.
  auto yaml = Cli({"--handler", "kata-cc", "--from-prometheus", prometheus_->url()});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_EQ(YAML::Load(yaml.out)["overhead"]["podFixed"]["memory"].as<std::string>(),
            fmt::format("{}Mi", wh.pod_fixed_mib));
  EXPECT_THAT(yaml.out, AllOf(HasSubstr("window 7d"), HasSubstr("from the bucket UVM <= 8Gi"),
                              HasSubstr("p95 (nearest rank)"), HasSubstr("15% margin"),
                              HasSubstr("from 2 sample(s) of 2 pod(s)"), HasSubstr("<- binds")));
  EXPECT_THAT(yaml.out, HasSubstr("Note: low confidence: the binding bucket rests on 2 pod(s)"));
  for (const char* lying :
       {"default/lying-nan", "default/lying-inf", "default/lying-huge", "default/lying-negative"})
    EXPECT_THAT(yaml.out, AllOf(HasSubstr(std::string("sample of ") + lying), HasSubstr("skipped"))) << lying;
  EXPECT_THAT(yaml.out, HasSubstr("default/no-uvm: no uvm_sizer_pod_uvm_memory_bytes with its uid: skipped"));
  EXPECT_THAT(yaml.out, ::testing::Not(HasSubstr("other-handler")));

  // A chosen UVM size picks its bucket.
  auto chosen = Cli({"--handler", "kata-cc", "--from-prometheus", prometheus_->url(), "--vm-memory", "2304Mi",
                     "-o", "json"});
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_EQ(json::parse(chosen.out)["recommendation"]["pod_fixed_mib"], wh.buckets[0].pod_fixed_mib);
}

TEST_F(RuntimeClassPrometheus, NoSeriesInTheWindowFallsBackToTheModelAndSaysSo) {
  auto r = Cli({"--handler", "kata-cc", "--from-prometheus", prometheus_->url(), "--window", "5m"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto model = Cli({"--handler", "kata-cc"});
  EXPECT_EQ(YAML::Load(r.out)["overhead"]["podFixed"]["memory"].as<std::string>(),
            YAML::Load(model.out)["overhead"]["podFixed"]["memory"].as<std::string>());
  EXPECT_THAT(r.out, AllOf(HasSubstr("from the MODEL, not measured"),
                           HasSubstr("Note: no samples of handler kata-cc: falls back to the model")));
}

TEST_F(RuntimeClassPrometheus, PrometheusErrorsAreExit2NamingUrlAndAnswer) {
  // Prometheus refuses the query (a zero range): its errorType and error come through.
  auto zero = Cli({"--handler", "kata-cc", "--from-prometheus", prometheus_->url(), "--window", "0d"});
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_TRUE(zero.out.empty());
  EXPECT_THAT(zero.err, AllOf(HasSubstr("Prometheus " + prometheus_->url()), HasSubstr("HTTP 400"),
                              HasSubstr("bad_data"), HasSubstr("duration must be greater than 0")));
  // A wrong path prefix: Prometheus's 404 page is not JSON.
  auto prefix = Cli({"--handler", "kata-cc", "--from-prometheus", prometheus_->url() + "/not-prometheus"});
  EXPECT_EQ(prefix.exit_code, 2);
  EXPECT_THAT(prefix.err,
              AllOf(HasSubstr(prometheus_->url() + "/not-prometheus"), HasSubstr("HTTP 404"),
                    HasSubstr("not a Prometheus JSON response"), HasSubstr("404 page not found")));
}

}  // namespace
}  // namespace uvm::testing
