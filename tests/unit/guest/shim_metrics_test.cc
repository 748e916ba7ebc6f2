#include "guest/shim_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace uvm::guest {
namespace {

using testing::HasSubstr;

std::string ReadFixture(const char* name) {
  std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/guest/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ShimMetrics, MapsTheFixturePayload) {
  auto g = GuestObservationFromShimMetrics(ReadFixture("shim_metrics.txt"), "fixture");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->mem_total_bytes, 2078076928);
  EXPECT_EQ(g->mem_available_bytes, 1461641216);
  EXPECT_EQ(g->anon_bytes, 167772160);
  EXPECT_EQ(g->shmem_bytes, 268435456);
  EXPECT_EQ(g->file_bytes, 402653184);
  EXPECT_EQ(g->oom_kills, 1u);
  ASSERT_EQ(g->mounts.size(), 3u);
  EXPECT_EQ(g->mounts[1].mount, "/run/kata-containers/shared/containers/3a9e/rootfs");
  EXPECT_EQ(g->mounts[1].device, "overlay");
  EXPECT_EQ(g->mounts[1].used_bytes, 64 << 20);
  EXPECT_EQ(g->mounts[1].total_bytes, 1039LL << 20);
}

TEST(ShimMetrics, KeepsTheShimsCreateSumAndCountOnlyForActionCreate) {
  const char* text =
      "# TYPE kata_shim_rpc_durations_histogram_milliseconds histogram\n"
      "kata_shim_rpc_durations_histogram_milliseconds_bucket{action=\"create\",le=\"+Inf\"} 1\n"
      "kata_shim_rpc_durations_histogram_milliseconds_sum{action=\"create\"} 812\n"
      "kata_shim_rpc_durations_histogram_milliseconds_count{action=\"create\"} 1\n"
      "kata_shim_rpc_durations_histogram_milliseconds_sum{action=\"start\"} 40\n"
      "kata_shim_rpc_durations_histogram_milliseconds_count{action=\"start\"} 3\n"
      "kata_guest_meminfo{item=\"mem_total\"} 1e9\nkata_guest_meminfo{item=\"mem_available\"} 5e8\n";
  auto g = GuestObservationFromShimMetrics(text, "shim");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->shim_create_sum_ms, 812.0);
  EXPECT_EQ(g->shim_create_count, 1.0);
}

TEST(ShimMetrics, ReadsTheOlderMillionSecondsNameAndNothingWhenAbsent) {
  const char* mem =
      "kata_guest_meminfo{item=\"mem_total\"} 1e9\nkata_guest_meminfo{item=\"mem_available\"} 5e8\n";
  auto old = GuestObservationFromShimMetrics(
      std::string("kata_shim_rpc_durations_histogram_million_seconds_sum{action=\"create\"} 95\n"
                  "kata_shim_rpc_durations_histogram_million_seconds_count{action=\"create\"} 2\n") +
          mem,
      "old shim");
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->shim_create_sum_ms, 95.0);
  EXPECT_EQ(old->shim_create_count, 2.0);
  auto none = GuestObservationFromShimMetrics(mem, "agent only");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->shim_create_sum_ms.has_value());
  EXPECT_FALSE(none->shim_create_count.has_value());
}

TEST(ShimMetrics, OlderAgentWithoutFilesystemOrVmstat) {
  auto g = GuestObservationFromShimMetrics(
      "kata_guest_meminfo{item=\"mem_total\"} 1e9\nkata_guest_meminfo{item=\"mem_available\"} 5e8\n", "old");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_TRUE(g->mounts.empty());
  EXPECT_FALSE(g->oom_kills.has_value());
  EXPECT_FALSE(g->shmem_bytes.has_value());
}

TEST(ShimMetrics, KataMonitorAggregateIsFilteredBySandbox) {
  std::string text =
      "kata_guest_meminfo{item=\"mem_total\",sandbox_id=\"aaa\"} 1000\n"
      "kata_guest_meminfo{item=\"mem_available\",sandbox_id=\"aaa\"} 100\n"
      "kata_guest_meminfo{item=\"mem_total\",sandbox_id=\"bbb\"} 2000\n"
      "kata_guest_meminfo{item=\"mem_available\",sandbox_id=\"bbb\"} 1500\n"
      "kata_guest_filesystem_bytes{mount=\"/run/x\",device=\"overlay\",item=\"used\",sandbox_id=\"bbb\"} 7\n";
  auto g = GuestObservationFromShimMetrics(text, "monitor", "bbb");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->mem_total_bytes, 2000);
  EXPECT_EQ(g->mem_available_bytes, 1500);
  ASSERT_EQ(g->mounts.size(), 1u);
  EXPECT_EQ(g->mounts[0].total_bytes, 0);  // no total reported
}

TEST(ShimMetrics, ErrorsNameSourceMetricAndLine) {
  struct Row {
    const char* text;
    const char* want;
  };
  std::vector<Row> rows = {
      {"kata_guest_meminfo{item=\"mem_total\"} 1e9\n",
       "sock: no kata_guest_meminfo{item=\"mem_available\"} sample: the Kata agent does not report guest "
       "memory"},
      {"", "no kata_guest_meminfo{item=\"mem_total\"} sample"},
      {"kata_guest_meminfo{item=\"mem_total\"} 1e9\nkata_guest_meminfo{item=\"mem_available\"} -5\n",
       "sock: line 2: kata_guest_meminfo{item=\"mem_available\"} is -5: want a finite count of 0..2^53"},
      {"kata_guest_meminfo{item=\"mem_total\"} NaN\n",
       "line 1: kata_guest_meminfo{item=\"mem_total\"} is nan"},
      {"kata_guest_filesystem_bytes{mount=\"/m\",item=\"used\"} +Inf\n",
       "kata_guest_filesystem_bytes{mount=\"/m\",item=\"used\"} is inf"},
      {"kata_guest_meminfo{item=\"mem_total\"} 0\nkata_guest_meminfo{item=\"mem_available\"} 0\n",
       "mem_total\"} is 0"},
      {"kata_guest_meminfo{item=\"mem_total\" 1\n", "sock: line 1: expected ',' or '}'"},
  };
  for (const auto& r : rows) {
    auto g = GuestObservationFromShimMetrics(r.text, "sock");
    ASSERT_FALSE(g.ok()) << r.text;
    EXPECT_THAT(g.error().message, HasSubstr(r.want)) << r.text;
  }
}

TEST(ShimMetrics, UnrelatedFamiliesAreIgnoredEvenWhenOdd) {
  // Values we do not use may be anything the format allows.
  auto g = GuestObservationFromShimMetrics(
      "kata_hypervisor_thing NaN\nkata_guest_meminfo{item=\"vmalloc_total\"} -1\n"
      "kata_guest_meminfo{item=\"mem_total\"} 100\nkata_guest_meminfo{item=\"mem_available\"} 10\n",
      "sock");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->mem_available_bytes, 10);
}

}  // namespace
}  // namespace uvm::guest
