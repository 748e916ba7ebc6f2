// The node's own startup histograms, read from a real containerd 1.6 (/v1/metrics on a loopback port the
// test picks): sandboxes the test creates show in containerd_cri_sandbox_runtime_create_seconds, which
// the runner uses as its cross-check, and in the scrape table under their runtime type.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/startup/node_metrics.h"
#include "bench/startup/node_scrape.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace uvm::startup {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class StartupNodeMetrics : public uvm::testing::ContainerdTest {
 public:
  // containerd.sh renders [metrics] address from UVM_CTRD_METRICS_ADDRESS (the harness's switch). The
  // port was free a moment ago; containerd exits when it cannot bind it, so a lost race is another try.
  static void SetUpTestSuite() {
    for (int attempt = 0; attempt < 3 && metrics_base_.empty(); ++attempt) {
      auto port = uvm::testing::FreeLoopbackPort();
      if (!port.ok()) continue;
      std::string address = fmt::format("127.0.0.1:{}", *port);
      ::setenv("UVM_CTRD_METRICS_ADDRESS", address.c_str(), 1);
      ContainerdTest::SetUpTestSuite();
      ::unsetenv("UVM_CTRD_METRICS_ADDRESS");
      if (FetchSoon(fmt::format("http://{}/v1/metrics", address)).ok()) metrics_base_ = "http://" + address;
    }
  }

 protected:
  void SetUp() override {
    ContainerdTest::SetUp();
    ASSERT_FALSE(metrics_base_.empty()) << "containerd's /v1/metrics did not answer on the port given to it";
  }

  static std::string metrics_url() { return metrics_base_ + "/v1/metrics"; }

  // The first GET may race containerd's listener coming up after its socket.
  static Result<std::string> FetchSoon(const std::string& url) {
    auto text = FetchMetricsText(url, 2000ms);
    for (int i = 0; i < 50 && !text.ok() && text.error().code == ErrorCode::kUnavailable; ++i) {
      std::this_thread::sleep_for(100ms);
      text = FetchMetricsText(url, 2000ms);
    }
    return text;
  }

  static inline std::string metrics_base_;
};

TEST_F(StartupNodeMetrics, SandboxCreateCountGoesUpByTheSandboxesMade) {
  auto before_text = FetchMetricsText(metrics_url(), 2000ms);
  ASSERT_TRUE(before_text.ok()) << before_text.error().message;
  auto before = ContainerdSandboxCreateTotals(*before_text);
  ASSERT_TRUE(before.ok()) << before.error().message;

  // Two handlers that are both runc underneath here: one runtime type, one series.
  auto a = containerd().CreatePod({.name = "startup-node-a", .handler = "runc"});
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = containerd().CreatePod({.name = "startup-node-b", .handler = "kata"});
  ASSERT_TRUE(b.ok()) << b.error().message;

  auto after_text = FetchMetricsText(metrics_url(), 2000ms);
  ASSERT_TRUE(after_text.ok()) << after_text.error().message;
  auto after = ContainerdSandboxCreateTotals(*after_text);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->count - before->count, 2);
  EXPECT_GT(after->sum_seconds - before->sum_seconds, 0);

  // Both are under the runtime type, not the handler (STARTUP.md §0 fact 3).
  constexpr HistogramFamilySpec kCreate[] = {{"containerd_cri_sandbox_runtime_create_seconds", "runtime"}};
  auto series = ReadHistograms(*after_text, "containerd", kCreate);
  ASSERT_TRUE(series.ok()) << series.error().message;
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].key, "io.containerd.runc.v2");
  EXPECT_GE((*series)[0].count, 2);
  EXPECT_EQ(TopFiniteBucket((*series)[0]), 10.0);

  EXPECT_TRUE(containerd().RemovePod(*a).ok());
  EXPECT_TRUE(containerd().RemovePod(*b).ok());
}

TEST_F(StartupNodeMetrics, WrongPathIsAnErrorNamingUrlAndStatus) {
  std::string url = metrics_base_ + "/v1/no-such-metrics";
  auto text = FetchMetricsText(url, 2000ms);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(text.error().message, AllOf(HasSubstr(url), HasSubstr("HTTP 404")));
}

TEST_F(StartupNodeMetrics, ScrapeHasARowForTheRuntimeTypeAndAnErrorRowForADeadKubelet) {
  auto pod = containerd().CreatePod({.name = "startup-node-scrape", .handler = "kata-cc"});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  ASSERT_TRUE(containerd().StartContainer(*pod, "app").ok());

  // The base URL alone: scrape adds /v1/metrics. Nothing listens on loopback port 1 (the "kubelet").
  auto report =
      Scrape({.kubelet_url = "http://127.0.0.1:1", .containerd_url = metrics_base_, .timeout = 2000ms});
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->sources.size(), 2u);
  EXPECT_FALSE(report->ok());
  ASSERT_TRUE(report->sources[0].error.has_value());
  const ScrapeSource& ctrd = report->sources[1];
  ASSERT_FALSE(ctrd.error.has_value()) << ctrd.error->message;
  EXPECT_EQ(ctrd.url, metrics_url());
  bool sandbox_row = false, start_row = false;
  for (const ScrapeRow& row : ctrd.rows) {
    if (row.key != "io.containerd.runc.v2") continue;
    if (row.metric == "containerd_cri_sandbox_runtime_create_seconds") {
      sandbox_row = true;
      EXPECT_GE(row.count, 1);
      ASSERT_TRUE(row.mean_seconds.has_value());
      EXPECT_GT(*row.mean_seconds, 0);
      // runc starts a sandbox well inside containerd's 10 s top bucket: a number, not "> 10 s".
      ASSERT_TRUE(row.p50.seconds.has_value());
      EXPECT_GT(*row.p50.seconds, 0);
      EXPECT_LE(*row.p50.seconds, 10);
    }
    if (row.metric == "containerd_cri_container_start_seconds") {
      start_row = true;
      EXPECT_EQ(row.phase, "start_container");
    }
  }
  EXPECT_TRUE(sandbox_row);
  EXPECT_TRUE(start_row);

  std::string text = RenderScrapeText(*report);
  EXPECT_THAT(text, AllOf(HasSubstr("bucket resolution"), HasSubstr("runtime type, not handler"),
                          ::testing::ContainsRegex("io\\.containerd\\.runc\\.v2 +run_sandbox +[0-9]+ ")));
  EXPECT_THAT(text, HasSubstr("error (unavailable)"));
  auto doc = nlohmann::json::parse(RenderScrapeJson(*report));
  EXPECT_EQ(doc["resolution"], "bucket");
  EXPECT_EQ(doc["sources"][1]["source"], "containerd");
  EXPECT_FALSE(doc["sources"][1]["rows"].empty());

  EXPECT_TRUE(containerd().RemovePod(*pod).ok());
}

#ifdef UVM_SIZER_STARTUP_BIN
// The command an operator runs: the same table on stdout, exit 0 with one reachable source, and exit 1
// with an error row when a source is down (the other is still printed).
TEST_F(StartupNodeMetrics, TheScrapeCommandPrintsTheTableAndFailsOnADeadSource) {
  auto pod = containerd().CreatePod({.name = "startup-node-cli", .handler = "kata"});
  ASSERT_TRUE(pod.ok()) << pod.error().message;

  uvm::testing::ProcessResult ok =
      uvm::testing::RunProcess({UVM_SIZER_STARTUP_BIN, "scrape", "--containerd", metrics_base_});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, AllOf(HasSubstr("bucket resolution"),
                            ::testing::ContainsRegex("io\\.containerd\\.runc\\.v2 +run_sandbox +[0-9]+ ")));

  uvm::testing::ProcessResult json =
      uvm::testing::RunProcess({UVM_SIZER_STARTUP_BIN, "scrape", "--containerd", metrics_base_, "--kubelet",
                                "http://127.0.0.1:1", "--json"});
  EXPECT_EQ(json.exit_code, 1) << json.err;
  auto doc = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << json.out;
  EXPECT_EQ(doc["sources"][1]["source"], "containerd");
  EXPECT_FALSE(doc["sources"][1]["rows"].empty());

  uvm::testing::ProcessResult usage = uvm::testing::RunProcess({UVM_SIZER_STARTUP_BIN, "scrape"});
  EXPECT_EQ(usage.exit_code, 2) << "no source is bad usage";

  EXPECT_TRUE(containerd().RemovePod(*pod).ok());
}
#endif

}  // namespace
}  // namespace uvm::startup
