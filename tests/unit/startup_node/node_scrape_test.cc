// `scrape`'s table from the node's own histograms: the kubelet's (component-base metrics text) and
// containerd 1.6's, rendered as text and JSON, with bucket resolution said out loud and error rows for
// sources that fail. Against a real containerd: tests/integration/startup_node_metrics_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/startup/node_scrape.h"

namespace uvm::startup {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// One histogram series the way client_golang's text encoder writes it: `le` last, bounds in Go's
// shortest float format, cumulative counts, +Inf = _count.
std::string Series(std::string_view name, std::string_view labels, const std::vector<double>& bounds,
                   const std::vector<int>& cumulative, double sum) {
  std::string out;
  for (size_t i = 0; i < bounds.size(); ++i)
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bounds[i], cumulative[i]);
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative.back());
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, cumulative.back());
  return out;
}

// prometheus DefBuckets; kubelet RuntimeOperationsDuration ExponentialBuckets(.005, 2.5, 14).
const std::vector<double> kDefBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
std::vector<double> KubeletOperationBuckets() {
  std::vector<double> out;
  for (int i = 0; i < 14; ++i) out.push_back(0.005 * std::pow(2.5, i));
  return out;
}

std::string KubeletText() {
  const std::string sandbox = "kubelet_run_podsandbox_duration_seconds";
  const std::string ops = "kubelet_runtime_operations_duration_seconds";
  std::string text = fmt::format(
      "# HELP {0} [ALPHA] Duration in seconds of the run_podsandbox operations. Broken down by "
      "RuntimeClass.Handler.\n# TYPE {0} histogram\n",
      sandbox);
  //                                            0.005 .01 .025 .05 .1 .25 .5 1 2.5 5 10
  text += Series(sandbox, "runtime_handler=\"runc\"", kDefBuckets,
                 {0, 0, 0, 0, 4, 10, 10, 10, 10, 10, 10, 10}, 1.5);
  text += Series(sandbox, "runtime_handler=\"kata\"", kDefBuckets, {0, 0, 0, 0, 0, 0, 2, 8, 10, 10, 10, 10},
                 8.25);
  text +=
      Series(sandbox, "runtime_handler=\"kata-cc\"", kDefBuckets, {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 10}, 95);
  text += fmt::format(
      "# HELP {0} [ALPHA] Duration in seconds of runtime operations. Broken down by operation type.\n"
      "# TYPE {0} histogram\n",
      ops);
  // 0.005 .0125 .03125 .078 .195 .488 1.22 3.05 7.63 19.1 47.7 119 298 745
  text +=
      Series(ops, "operation_type=\"list_podsandbox\"", KubeletOperationBuckets(),
             {900, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, 2);
  text += Series(ops, "operation_type=\"start_container\"", KubeletOperationBuckets(),
                 {0, 0, 5, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30}, 1.2);
  text += Series(ops, "operation_type=\"run_podsandbox\"", KubeletOperationBuckets(),
                 {0, 0, 0, 0, 4, 12, 20, 27, 30, 30, 30, 30, 30, 30, 30}, 30.4);
  text += Series(ops, "operation_type=\"pull_image\"", KubeletOperationBuckets(),
                 {0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3}, 60);
  return text;
}

std::string ContainerdText() {
  const std::string create = "containerd_cri_sandbox_runtime_create_seconds";
  std::string text =
      fmt::format("# HELP {0} time to create a sandbox in the runtime\n# TYPE {0} histogram\n", create);
  text += Series(create, "runtime=\"io.containerd.runc.v2\"", kDefBuckets,
                 {0, 0, 2, 10, 20, 20, 20, 20, 20, 20, 20, 20}, 0.9);
  text +=
      "# HELP containerd_cri_sandbox_create_network_seconds time to create the network of a sandbox\n"
      "# TYPE containerd_cri_sandbox_create_network_seconds histogram\n"
      "containerd_cri_sandbox_create_network_seconds_bucket{le=\"0.005\"} 0\n"
      "containerd_cri_sandbox_create_network_seconds_bucket{le=\"+Inf\"} 0\n"
      "containerd_cri_sandbox_create_network_seconds_sum 0\n"
      "containerd_cri_sandbox_create_network_seconds_count 0\n"
      "# HELP containerd_cri_container_start_seconds time to start a container\n"
      "# TYPE containerd_cri_container_start_seconds histogram\n";
  return text;
}

const ScrapeRow* Find(const std::vector<ScrapeRow>& rows, std::string_view metric, std::string_view key) {
  for (const ScrapeRow& r : rows) {
    if (r.metric == metric && r.key == key) return &r;
  }
  return nullptr;
}

TEST(ScrapeRows, KubeletHandlersAndThePodStartOperations) {
  auto rows = ScrapeRows(NodeMetricsSource::kKubelet, KubeletText(), "kubelet test");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  const ScrapeRow* runc = Find(*rows, "kubelet_run_podsandbox_duration_seconds", "runc");
  ASSERT_NE(runc, nullptr);
  EXPECT_EQ(runc->key_label, "runtime_handler");
  EXPECT_EQ(runc->phase, "run_sandbox");
  EXPECT_EQ(runc->count, 10);
  EXPECT_DOUBLE_EQ(*runc->mean_seconds, 0.15);
  EXPECT_EQ(runc->top_bucket_seconds, 10.0);
  // rank 5 in (0.1, 0.25] holding observations 5..10: 0.1 + 0.15 * 1/6.
  EXPECT_NEAR(*runc->p50.seconds, 0.1 + 0.15 / 6, 1e-12);

  const ScrapeRow* kata_cc = Find(*rows, "kubelet_run_podsandbox_duration_seconds", "kata-cc");
  ASSERT_NE(kata_cc, nullptr);
  EXPECT_FALSE(kata_cc->p50.seconds.has_value());  // 7 of 10 beyond 10 s
  EXPECT_EQ(kata_cc->p50.above, 10.0);
  EXPECT_EQ(kata_cc->p99.above, 10.0);
  EXPECT_DOUBLE_EQ(*kata_cc->mean_seconds, 9.5);  // the mean stays exact

  // Only the operations of a pod start, in the kubelet's order, named as pods.jsonl names the phases.
  std::vector<std::string> operations;
  for (const ScrapeRow& r : *rows) {
    if (r.key_label == "operation_type") operations.push_back(r.key + ":" + r.phase);
  }
  EXPECT_THAT(operations, ::testing::ElementsAre("run_podsandbox:run_sandbox", "pull_image:pull_image",
                                                 "start_container:start_container"));
  const ScrapeRow* run = Find(*rows, "kubelet_runtime_operations_duration_seconds", "run_podsandbox");
  ASSERT_NE(run, nullptr);
  EXPECT_NEAR(*run->top_bucket_seconds, 745.0580596923828, 1e-9);
}

TEST(ScrapeRows, ContainerdRowsAreByRuntimeTypeAndAnUnlabelledTimerIsOneRow) {
  auto rows = ScrapeRows(NodeMetricsSource::kContainerd, ContainerdText(), "containerd test");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].key_label, "runtime");
  EXPECT_EQ((*rows)[0].key, "io.containerd.runc.v2");
  EXPECT_EQ((*rows)[0].count, 20);
  EXPECT_EQ((*rows)[1].metric, "containerd_cri_sandbox_create_network_seconds");
  EXPECT_EQ((*rows)[1].key, "");
  EXPECT_EQ((*rows)[1].count, 0);
  EXPECT_FALSE((*rows)[1].mean_seconds.has_value());
  EXPECT_FALSE((*rows)[1].p50.seconds.has_value());
  EXPECT_FALSE((*rows)[1].p50.above.has_value());
}

TEST(ScrapeRows, MalformedTextIsAnErrorNamingSourceAndLine) {
  auto rows = ScrapeRows(NodeMetricsSource::kKubelet,
                         "# TYPE kubelet_run_podsandbox_duration_seconds histogram\n"
                         "kubelet_run_podsandbox_duration_seconds_count{runtime_handler=\"kata\" 3\n",
                         "kubelet http://127.0.0.1:8001/metrics");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(rows.error().message,
              AllOf(HasSubstr("kubelet http://127.0.0.1:8001/metrics"), HasSubstr("line 2")));
}

ScrapeReport TwoSourceReport() {
  auto kubelet = ScrapeRows(NodeMetricsSource::kKubelet, KubeletText(), "kubelet");
  auto containerd = ScrapeRows(NodeMetricsSource::kContainerd, ContainerdText(), "containerd");
  EXPECT_TRUE(kubelet.ok() && containerd.ok());
  return {
      .sources = {{.source = NodeMetricsSource::kKubelet, .url = "http://k:8001/metrics", .rows = *kubelet},
                  {.source = NodeMetricsSource::kContainerd,
                   .url = "http://c:1338/v1/metrics",
                   .rows = *containerd}}};
}

TEST(RenderScrapeText, SaysBucketResolutionAndShowsMassAboveTheTopBucket) {
  std::string text = RenderScrapeText(TwoSourceReport());
  EXPECT_THAT(text, HasSubstr("bucket resolution"));
  EXPECT_THAT(text, HasSubstr("kubelet http://k:8001/metrics"));
  EXPECT_THAT(text, HasSubstr("kubelet_run_podsandbox_duration_seconds (top bucket 10 s)"));
  EXPECT_THAT(text, HasSubstr("> 10 s"));
  EXPECT_THAT(text, HasSubstr("handler"));
  // containerd's key column is the runtime type, and says so.
  EXPECT_THAT(text, HasSubstr("runtime type, not handler"));
  EXPECT_THAT(text, ::testing::ContainsRegex("runtime +phase +n +mean +p50 +p90 +p99"));
  EXPECT_THAT(text, ::testing::ContainsRegex("io\\.containerd\\.runc\\.v2 +run_sandbox +20 +45\\.0 ms"));
  EXPECT_THAT(text, HasSubstr("containerd_cri_container_start_seconds: no series"));
}

TEST(RenderScrapeJson, RowsWithNumbersOrAboveTheTopBucket) {
  auto doc = nlohmann::json::parse(RenderScrapeJson(TwoSourceReport()));
  EXPECT_EQ(doc["resolution"], "bucket");
  ASSERT_EQ(doc["sources"].size(), 2u);
  EXPECT_EQ(doc["sources"][0]["source"], "kubelet");
  EXPECT_TRUE(doc["sources"][0]["error"].is_null());
  bool saw_kata_cc = false;
  for (const auto& row : doc["sources"][0]["rows"]) {
    if (row["key"] != "kata-cc") continue;
    saw_kata_cc = true;
    EXPECT_EQ(row["key_label"], "runtime_handler");
    EXPECT_EQ(row["n"], 10);
    EXPECT_TRUE(row["p50_s"].is_null());
    EXPECT_EQ(row["p50_above_top_bucket"], true);
    EXPECT_EQ(row["top_bucket_s"], 10);
    EXPECT_DOUBLE_EQ(row["mean_s"].get<double>(), 9.5);
  }
  EXPECT_TRUE(saw_kata_cc);
  const auto& ctrd = doc["sources"][1];
  EXPECT_EQ(ctrd["key_is_runtime_type"], true);
  EXPECT_EQ(ctrd["rows"][0]["key_label"], "runtime");
  EXPECT_EQ(ctrd["rows"][0]["p50_above_top_bucket"], false);
  EXPECT_GT(ctrd["rows"][0]["p50_s"].get<double>(), 0.025);
}

TEST(Scrape, NeedsAtLeastOneUrlAndRefusesBadOnesNamingTheFlag) {
  auto none = Scrape({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(none.error().message, AllOf(HasSubstr("--kubelet"), HasSubstr("--containerd")));
  auto https = Scrape({.kubelet_url = "https://10.0.0.4:10250/metrics"});
  ASSERT_FALSE(https.ok());
  EXPECT_THAT(
      https.error().message,
      AllOf(HasSubstr("--kubelet"), HasSubstr("https://10.0.0.4:10250/metrics"), HasSubstr("only http://")));
}

TEST(Scrape, AnUnreachableSourceIsAnErrorRowAndTheOtherStillComes) {
  // Nothing listens on loopback port 1: both sources fail, each as its own row, the report is still made.
  auto report = Scrape({.kubelet_url = "http://127.0.0.1:1",
                        .containerd_url = "http://127.0.0.1:1/v1/metrics",
                        .timeout = std::chrono::milliseconds(2000)});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(report->ok());
  ASSERT_EQ(report->sources.size(), 2u);
  EXPECT_EQ(report->sources[0].url, "http://127.0.0.1:1/metrics");  // the default path added
  ASSERT_TRUE(report->sources[0].error.has_value());
  EXPECT_EQ(report->sources[0].error->code, ErrorCode::kUnavailable);
  std::string text = RenderScrapeText(*report);
  EXPECT_THAT(text, AllOf(HasSubstr("error (unavailable)"), HasSubstr("http://127.0.0.1:1/v1/metrics")));
  auto doc = nlohmann::json::parse(RenderScrapeJson(*report));
  EXPECT_EQ(doc["sources"][1]["error"]["code"], "unavailable");
  EXPECT_THAT(doc["sources"][1]["error"]["message"].get<std::string>(),
              HasSubstr("http://127.0.0.1:1/v1/metrics"));
}

TEST(MetricsUrlWithDefaultPath, AddsTheSourcesPathOnlyWhenThereIsNone) {
  EXPECT_EQ(MetricsUrlWithDefaultPath(NodeMetricsSource::kContainerd, "http://127.0.0.1:1338"),
            "http://127.0.0.1:1338/v1/metrics");
  EXPECT_EQ(MetricsUrlWithDefaultPath(NodeMetricsSource::kContainerd, "http://127.0.0.1:1338/"),
            "http://127.0.0.1:1338/v1/metrics");
  EXPECT_EQ(MetricsUrlWithDefaultPath(NodeMetricsSource::kKubelet,
                                      "http://127.0.0.1:8001/api/v1/nodes/n/proxy/metrics"),
            "http://127.0.0.1:8001/api/v1/nodes/n/proxy/metrics");
  EXPECT_EQ(MetricsUrlWithDefaultPath(NodeMetricsSource::kKubelet, "http://10.0.0.4:10255"),
            "http://10.0.0.4:10255/metrics");
}

}  // namespace
}  // namespace uvm::startup
