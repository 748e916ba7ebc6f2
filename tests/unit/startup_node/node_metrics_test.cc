// The runner's cross-check and the histogram reading behind `scrape`, on exposition text as containerd
// 1.6.20 (/v1/metrics, docker/go-metrics timers over client_golang) and the kubelet (component-base
// metrics) serve it. Against a real containerd: tests/integration/startup_node_metrics_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "bench/startup/histograms.h"
#include "bench/startup/node_metrics.h"

namespace uvm::startup {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Two runtime types, as a node with runc and Kata pods shows them (the `runtime` label is the runtime
// type: STARTUP.md §2.6), with the neighbouring families containerd serves around it.
constexpr const char* kContainerd =
    R"(# HELP containerd_cri_container_create_seconds time to create a container
# TYPE containerd_cri_container_create_seconds histogram
containerd_cri_container_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.005"} 0
containerd_cri_container_create_seconds_bucket{runtime="io.containerd.runc.v2",le="+Inf"} 3
containerd_cri_container_create_seconds_sum{runtime="io.containerd.runc.v2"} 0.09
containerd_cri_container_create_seconds_count{runtime="io.containerd.runc.v2"} 3
# HELP containerd_cri_sandbox_runtime_create_seconds time to create a sandbox in the runtime
# TYPE containerd_cri_sandbox_runtime_create_seconds histogram
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.005"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.01"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.025"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.05"} 2
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.1"} 8
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.25"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="0.5"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="1"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="2.5"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="5"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="10"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.runc.v2",le="+Inf"} 10
containerd_cri_sandbox_runtime_create_seconds_sum{runtime="io.containerd.runc.v2"} 0.8125
containerd_cri_sandbox_runtime_create_seconds_count{runtime="io.containerd.runc.v2"} 10
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.005"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.01"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.025"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.05"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.1"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.25"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="0.5"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="1"} 0
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="2.5"} 1
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="5"} 1
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="10"} 2
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="io.containerd.kata.v2",le="+Inf"} 5
containerd_cri_sandbox_runtime_create_seconds_sum{runtime="io.containerd.kata.v2"} 71.5
containerd_cri_sandbox_runtime_create_seconds_count{runtime="io.containerd.kata.v2"} 5
# HELP containerd_cri_sandbox_runtime_stop_seconds time to stop a sandbox
# TYPE containerd_cri_sandbox_runtime_stop_seconds histogram
containerd_cri_sandbox_runtime_stop_seconds_bucket{runtime="io.containerd.runc.v2",le="+Inf"} 9
containerd_cri_sandbox_runtime_stop_seconds_sum{runtime="io.containerd.runc.v2"} 4.5
containerd_cri_sandbox_runtime_stop_seconds_count{runtime="io.containerd.runc.v2"} 9
)";

// A containerd that has created no sandbox yet: the family is declared, its labelled series do not exist.
constexpr const char* kContainerdFresh =
    R"(# HELP containerd_cri_sandbox_runtime_create_seconds time to create a sandbox in the runtime
# TYPE containerd_cri_sandbox_runtime_create_seconds histogram
# HELP containerd_cri_sandbox_create_network_seconds time to create the network of a sandbox
# TYPE containerd_cri_sandbox_create_network_seconds histogram
containerd_cri_sandbox_create_network_seconds_bucket{le="0.005"} 0
containerd_cri_sandbox_create_network_seconds_bucket{le="+Inf"} 0
containerd_cri_sandbox_create_network_seconds_sum 0
containerd_cri_sandbox_create_network_seconds_count 0
)";

constexpr HistogramFamilySpec kSandboxCreate[] = {
    {.name = "containerd_cri_sandbox_runtime_create_seconds", .key_label = "runtime"}};

TEST(ContainerdSandboxCreateTotals, SumsEveryRuntimeAndNoOtherFamily) {
  auto totals = ContainerdSandboxCreateTotals(kContainerd);
  ASSERT_TRUE(totals.ok()) << totals.error().message;
  EXPECT_DOUBLE_EQ(totals->count, 15);  // 10 runc + 5 kata; not the stop or container timers
  EXPECT_DOUBLE_EQ(totals->sum_seconds, 0.8125 + 71.5);
}

TEST(ContainerdSandboxCreateTotals, ZeroBeforeTheFirstSandbox) {
  for (const char* text : {kContainerdFresh, "", "# only a comment\n"}) {
    auto totals = ContainerdSandboxCreateTotals(text);
    ASSERT_TRUE(totals.ok()) << totals.error().message;
    EXPECT_EQ(totals->count, 0);
    EXPECT_EQ(totals->sum_seconds, 0);
  }
}

TEST(ContainerdSandboxCreateTotals, MalformedTextIsAnErrorNamingTheLine) {
  auto totals = ContainerdSandboxCreateTotals(
      "# TYPE containerd_cri_sandbox_runtime_create_seconds histogram\n"
      "containerd_cri_sandbox_runtime_create_seconds_sum{runtime=\"io.containerd.runc.v2\"} 1.5\n"
      "containerd_cri_sandbox_runtime_create_seconds_count{runtime=io.containerd.runc.v2} 3\n");
  ASSERT_FALSE(totals.ok());
  EXPECT_EQ(totals.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(totals.error().message, AllOf(HasSubstr("containerd metrics"), HasSubstr("line 3")));
}

TEST(FetchMetricsText, RefusesWhatIsNoHttpUrlNamingIt) {
  for (const char* url : {"https://10.0.0.1:10250/metrics", "127.0.0.1:1338/v1/metrics", "http://:1338",
                          "http://127.0.0.1:0/v1/metrics", "http://127.0.0.1:1338/v1/metrics#x"}) {
    auto text = FetchMetricsText(url, std::chrono::milliseconds(500));
    ASSERT_FALSE(text.ok()) << url;
    EXPECT_EQ(text.error().code, ErrorCode::kInvalidInput) << url;
    EXPECT_THAT(text.error().message, HasSubstr(url));
  }
}

TEST(FetchMetricsText, AnEndpointThatIsDownIsAnErrorNamingTheUrl) {
  // Port 1 on loopback: nothing listens there.
  auto text = FetchMetricsText("http://127.0.0.1:1/v1/metrics", std::chrono::milliseconds(2000));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(text.error().message, AllOf(HasSubstr("http://127.0.0.1:1/v1/metrics"), HasSubstr("connect")));
}

TEST(ReadHistograms, OneSeriesPerKeyWithItsBuckets) {
  auto series = ReadHistograms(kContainerd, "containerd", kSandboxCreate);
  ASSERT_TRUE(series.ok()) << series.error().message;
  ASSERT_EQ(series->size(), 2u);
  const HistogramSeries& runc = (*series)[0];
  EXPECT_EQ(runc.family, "containerd_cri_sandbox_runtime_create_seconds");
  EXPECT_EQ(runc.key, "io.containerd.runc.v2");
  EXPECT_DOUBLE_EQ(runc.count, 10);
  EXPECT_DOUBLE_EQ(runc.sum, 0.8125);
  ASSERT_EQ(runc.buckets.size(), 12u);  // DefBuckets (11 finite) + +Inf
  EXPECT_DOUBLE_EQ(runc.buckets[0].upper_bound, 0.005);
  EXPECT_TRUE(std::isinf(runc.buckets.back().upper_bound));
  EXPECT_EQ(TopFiniteBucket(runc), 10.0);
  EXPECT_EQ((*series)[1].key, "io.containerd.kata.v2");
}

TEST(ReadHistograms, SeriesDifferingInOtherLabelsAddUp) {
  auto series =
      ReadHistograms(R"(containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="r",shard="a",le="1"} 1
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="r",shard="a",le="+Inf"} 2
containerd_cri_sandbox_runtime_create_seconds_sum{runtime="r",shard="a"} 3
containerd_cri_sandbox_runtime_create_seconds_count{runtime="r",shard="a"} 2
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="r",shard="b",le="1"} 4
containerd_cri_sandbox_runtime_create_seconds_bucket{runtime="r",shard="b",le="+Inf"} 4
containerd_cri_sandbox_runtime_create_seconds_sum{runtime="r",shard="b"} 2
containerd_cri_sandbox_runtime_create_seconds_count{runtime="r",shard="b"} 4
)",
                     "t", kSandboxCreate);
  ASSERT_TRUE(series.ok()) << series.error().message;
  ASSERT_EQ(series->size(), 1u);
  EXPECT_DOUBLE_EQ((*series)[0].count, 6);
  EXPECT_DOUBLE_EQ((*series)[0].sum, 5);
  ASSERT_EQ((*series)[0].buckets.size(), 2u);
  EXPECT_DOUBLE_EQ((*series)[0].buckets[0].cumulative_count, 5);
}

TEST(ReadHistograms, DeclaredFamilyWithoutSeriesGivesNone) {
  auto series = ReadHistograms(kContainerdFresh, "containerd", kSandboxCreate);
  ASSERT_TRUE(series.ok()) << series.error().message;
  EXPECT_TRUE(series->empty());
}

TEST(ReadHistograms, BucketWithoutNumericBoundIsAnErrorNamingTheLine) {
  for (const char* text :
       {"containerd_cri_sandbox_runtime_create_seconds_bucket{runtime=\"r\"} 1\n",
        "\ncontainerd_cri_sandbox_runtime_create_seconds_bucket{runtime=\"r\",le=\"fast\"} 1\n"}) {
    auto series = ReadHistograms(text, "containerd http://x/v1/metrics", kSandboxCreate);
    ASSERT_FALSE(series.ok()) << text;
    EXPECT_EQ(series.error().code, ErrorCode::kInvalidInput);
    EXPECT_THAT(series.error().message,
                AllOf(HasSubstr("containerd http://x/v1/metrics"), HasSubstr("line "), HasSubstr("le")));
  }
}

TEST(HistogramQuantile, InterpolatesLinearlyInsideTheBucketAsPrometheusDoes) {
  auto series = ReadHistograms(kContainerd, "containerd", kSandboxCreate);
  ASSERT_TRUE(series.ok()) << series.error().message;
  const HistogramSeries& runc = (*series)[0];
  // rank 5 of 10 lies in (0.05, 0.1], which holds observations 3..8: 0.05 + 0.05 * (5 - 2) / 6.
  EXPECT_NEAR(*HistogramQuantile(0.5, runc).seconds, 0.075, 1e-12);
  // rank 9 in (0.1, 0.25], observations 9..10: 0.1 + 0.15 * 1 / 2.
  EXPECT_NEAR(*HistogramQuantile(0.9, runc).seconds, 0.175, 1e-12);
  EXPECT_NEAR(*HistogramQuantile(0.99, runc).seconds, 0.1 + 0.15 * 1.9 / 2, 1e-12);
  // The first bucket interpolates from 0.
  HistogramSeries first{.buckets = {{0.1, 4}, {1, 4}, {std::numeric_limits<double>::infinity(), 4}},
                        .count = 4};
  EXPECT_NEAR(*HistogramQuantile(0.5, first).seconds, 0.05, 1e-12);
}

TEST(HistogramQuantile, MassAboveTheTopBucketIsNoNumber) {
  auto series = ReadHistograms(kContainerd, "containerd", kSandboxCreate);
  ASSERT_TRUE(series.ok()) << series.error().message;
  const HistogramSeries& kata = (*series)[1];  // 3 of 5 sandboxes took longer than 10 s
  BucketQuantile p50 = HistogramQuantile(0.5, kata);
  EXPECT_FALSE(p50.seconds.has_value());
  EXPECT_EQ(p50.above, 10.0);
  // rank 1 of 5 still lands in (1, 2.5].
  EXPECT_NEAR(*HistogramQuantile(0.2, kata).seconds, 2.5, 1e-12);
}

TEST(HistogramQuantile, NoObservationsNoQuantile) {
  auto series = ReadHistograms(
      kContainerdFresh, "containerd",
      std::array{HistogramFamilySpec{"containerd_cri_sandbox_create_network_seconds", "runtime"}});
  ASSERT_TRUE(series.ok()) << series.error().message;
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0].key, "");
  BucketQuantile q = HistogramQuantile(0.5, (*series)[0]);
  EXPECT_FALSE(q.seconds.has_value());
  EXPECT_FALSE(q.above.has_value());
}

TEST(HistogramQuantile, BucketsThatGoDownAreMadeMonotonic) {
  // A scrape racing an observation (Prometheus ensureMonotonic): (0.1, 0.25] counts as holding nothing.
  HistogramSeries racing{
      .buckets = {{0.1, 6}, {0.25, 5}, {1, 10}, {std::numeric_limits<double>::infinity(), 10}}, .count = 10};
  EXPECT_NEAR(*HistogramQuantile(0.8, racing).seconds, 0.25 + 0.75 * 2 / 4, 1e-12);
}

}  // namespace
}  // namespace uvm::startup
