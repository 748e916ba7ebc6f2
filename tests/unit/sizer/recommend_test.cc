#include "sizer/recommend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace uvm::sizer {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kMib = 1 << 20;

HandlerProfile KataCc() {
  return {"kata-cc", *FindBuiltinProfile("aks-kata-cc-2048")};
}

OverheadSample Sample(double uvm_mib, double overhead_mib, std::string uid) {
  return {.handler = "kata-cc",
          .uvm_memory_mib = uvm_mib,
          .host_overhead_bytes = overhead_mib * kMib,
          .pod_uid = uid,
          .pod = "default/" + uid};
}

TEST(NearestRankPercentile, Table) {
  struct Case {
    std::vector<double> values;
    double p;
    double want;
  } cases[] = {
      {{7}, 0.95, 7},
      {{3, 1, 2}, 0.95, 3},                         // rank ⌈2.85⌉ = 3
      {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.95, 10},  // rank ⌈9.5⌉ = 10
      {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5},    // rank 5
      {{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
       0.95,
       19},  // rank 19, exactly
      {{5, 5, 5, 100}, 0.95, 100},
  };
  for (const auto& c : cases) EXPECT_EQ(NearestRankPercentile(c.values, c.p), c.want) << c.values.size();
  EXPECT_EQ(NearestRankPercentile({}, 0.95), std::nullopt);
}

TEST(BucketMaxMib, PowersOfTwoGib) {
  EXPECT_EQ(BucketMaxMib(1), 1024u);
  EXPECT_EQ(BucketMaxMib(1024), 1024u);
  EXPECT_EQ(BucketMaxMib(1025), 2048u);
  EXPECT_EQ(BucketMaxMib(2304), 4096u);
  EXPECT_EQ(BucketMaxMib(4096), 4096u);
  EXPECT_EQ(BucketMaxMib(10240), 16384u);
}

// Twenty pods of a 2304 MiB UVM (bucket ≤4Gi) measured at 100..119 MiB: p95 is rank 19, 118 MiB; the margin
// 15 % of it; podFixed = 2048 (kata-cc's base) + ⌈118 · 1.15⌉ = 2048 + 136 = 2184 MiB.
TEST(RecommendPodFixed, P95PlusMarginOnTheBase) {
  std::vector<OverheadSample> samples;
  for (int i = 0; i < 20; ++i) samples.push_back(Sample(2304, 100 + i, "pod-" + std::to_string(i)));
  auto r = RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{});
  ASSERT_EQ(r.handlers.size(), 1u);
  const auto& h = r.handlers[0];
  ASSERT_EQ(h.buckets.size(), 1u);
  const auto& b = h.buckets[0];
  EXPECT_TRUE(b.measured);
  EXPECT_EQ(b.max_uvm_mib, 4096u);
  EXPECT_EQ(b.samples, 20u);
  EXPECT_EQ(b.pods, 20u);
  EXPECT_EQ(b.p95_bytes, 118 * kMib);
  EXPECT_EQ(b.margin_bytes, static_cast<int64_t>(std::ceil(118.0 * kMib * 0.15)));
  EXPECT_EQ(b.base_mib, 2048);
  EXPECT_EQ(b.pod_fixed_mib, 2048 + 136);  // 118 · 1.15 = 135.7
  EXPECT_EQ(h.pod_fixed_mib, 2184);
  EXPECT_EQ(r.samples_used, 20u);
  EXPECT_THAT(r.notes, IsEmpty());
  EXPECT_THAT(h.notes, Contains(HasSubstr("largest bucket with samples (UVM <= 4Gi) binds")));
}

TEST(RecommendPodFixed, SamplesOfOnePodCountAsOnePod) {
  std::vector<OverheadSample> samples = {Sample(2304, 150, "a"), Sample(2304, 160, "a"),
                                         Sample(2304, 155, "a")};
  auto r = RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{});
  const auto& b = r.handlers[0].buckets[0];
  EXPECT_EQ(b.samples, 3u);
  EXPECT_EQ(b.pods, 1u);
  EXPECT_EQ(b.p95_bytes, 160 * kMib);
  EXPECT_THAT(r.handlers[0].notes,
              Contains(HasSubstr("low confidence: the binding bucket rests on 1 pod(s) (3")));
  // Without a uid every sample is a pod of its own.
  for (auto& s : samples) s.pod_uid.clear();
  EXPECT_EQ(RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{}).handlers[0].buckets[0].pods, 3u);
}

// Buckets by power-of-two GiB; the larger bucket needs more and binds; a chosen UVM size picks its bucket.
TEST(RecommendPodFixed, LargestBucketBindsUnlessASizeIsChosen) {
  std::vector<OverheadSample> samples = {Sample(2304, 100, "s1"), Sample(2560, 110, "s2"),
                                         Sample(3000, 120, "s3"), Sample(6144, 200, "l1"),
                                         Sample(8192, 220, "l2"), Sample(8000, 210, "l3")};
  auto r = RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{});
  const auto& h = r.handlers[0];
  ASSERT_EQ(h.buckets.size(), 2u);
  EXPECT_EQ(h.buckets[0].max_uvm_mib, 4096u);
  EXPECT_EQ(h.buckets[0].pod_fixed_mib, 2048 + 138);  // 120 · 1.15 = 138
  EXPECT_EQ(h.buckets[0].smallest_uvm_mib, 2304u);
  EXPECT_EQ(h.buckets[0].largest_uvm_mib, 3000u);
  EXPECT_EQ(h.buckets[1].max_uvm_mib, 8192u);
  EXPECT_EQ(h.buckets[1].pod_fixed_mib, 2048 + 253);  // 220 · 1.15 = 253
  EXPECT_EQ(h.binding, 1u);
  EXPECT_EQ(h.pod_fixed_mib, 2301);

  auto chosen = RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{}, {.uvm_memory_mib = 2304});
  EXPECT_EQ(chosen.handlers[0].binding, 0u);
  EXPECT_EQ(chosen.handlers[0].pod_fixed_mib, 2186);
  EXPECT_THAT(chosen.handlers[0].notes,
              Contains(HasSubstr("the bucket UVM <= 4Gi of the chosen 2304 MiB UVM binds")));
}

// A smaller bucket that measured more than the larger ones binds: podFixed must cover every pod of the class.
TEST(RecommendPodFixed, ASmallerBucketNeedingMoreBinds) {
  std::vector<OverheadSample> samples = {Sample(2304, 400, "s1"), Sample(8192, 200, "l1")};
  auto h = RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{}).handlers[0];
  EXPECT_EQ(h.binding, 0u);
  EXPECT_EQ(h.pod_fixed_mib, 2048 + 460);
  EXPECT_THAT(h.notes, Contains(HasSubstr("needs more than the larger buckets")));
}

// No samples: the model's podFixed, as `runtimeclass` without measurements prints it, with a note.
TEST(RecommendPodFixed, NoSamplesFallsBackToTheModel) {
  HostOverheadModel model;
  auto h = RecommendPodFixed({}, {KataCc()}, model).handlers[0];
  ASSERT_EQ(h.buckets.size(), 1u);
  EXPECT_FALSE(h.buckets[0].measured);
  EXPECT_EQ(h.buckets[0].model_uvm_mib, 2048u + 8192u);
  int64_t model_mib = (model.OverheadBytes(10240) + kMib - 1) / kMib;
  EXPECT_EQ(h.pod_fixed_mib, 2048 + model_mib);
  EXPECT_THAT(h.notes,
              Contains(HasSubstr("no samples of handler kata-cc: falls back to the model for a 10240 MiB")));

  // Samples, but none in the bucket of the chosen size: that bucket falls back, the others stay measured.
  auto chosen = RecommendPodFixed({Sample(2304, 100, "a")}, {KataCc()}, model, {.uvm_memory_mib = 16384});
  const auto& c = chosen.handlers[0];
  ASSERT_EQ(c.buckets.size(), 2u);
  EXPECT_TRUE(c.buckets[0].measured);
  EXPECT_FALSE(c.buckets[c.binding].measured);
  EXPECT_EQ(c.buckets[c.binding].max_uvm_mib, 16384u);
  EXPECT_EQ(c.pod_fixed_mib, 2048 + (model.OverheadBytes(16384) + kMib - 1) / kMib);
  EXPECT_THAT(c.notes, Contains(HasSubstr("no samples of handler kata-cc in the bucket UVM <= 16Gi")));
}

// What a lying Prometheus or a broken measurement gives is skipped, each with a note naming the pod; the
// rest still counts.
TEST(RecommendPodFixed, BadSamplesAreSkippedWithANote) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  std::vector<OverheadSample> samples = {
      Sample(2304, 100, "good"),
      {.handler = "kata-cc", .uvm_memory_mib = 2304, .host_overhead_bytes = nan, .pod = "ns/nan"},
      {.handler = "kata-cc", .uvm_memory_mib = 2304, .host_overhead_bytes = inf, .pod = "ns/inf"},
      {.handler = "kata-cc",
       .uvm_memory_mib = 2304,
       .host_overhead_bytes = -5.0 * kMib,
       .pod = "ns/negative"},
      {.handler = "kata-cc", .uvm_memory_mib = 2304, .host_overhead_bytes = 1e300, .pod = "ns/huge"},
      {.handler = "kata-cc", .uvm_memory_mib = nan, .host_overhead_bytes = 1e8, .pod = "ns/uvm-nan"},
      {.handler = "kata-cc", .uvm_memory_mib = 0, .host_overhead_bytes = 1e8, .pod = "ns/uvm-zero"},
      {.handler = "kata", .uvm_memory_mib = 512, .host_overhead_bytes = 1e8, .pod = "ns/other"},
  };
  auto r = RecommendPodFixed(samples, {KataCc()}, HostOverheadModel{});
  EXPECT_EQ(r.samples_used, 1u);
  EXPECT_EQ(r.handlers[0].buckets.size(), 1u);
  EXPECT_EQ(r.handlers[0].buckets[0].p95_bytes, 100 * kMib);
  EXPECT_EQ(r.handlers[0].pod_fixed_mib, 2048 + 115);
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("ns/nan"), HasSubstr("not a number of bytes"))));
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("ns/inf"), HasSubstr("not a number of bytes"))));
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("ns/negative"), HasSubstr("negative"))));
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("ns/huge"), HasSubstr("beyond 1 TiB"))));
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("ns/uvm-nan"), HasSubstr("not a plausible VM size"))));
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("ns/uvm-zero"), HasSubstr("not a plausible VM size"))));
  EXPECT_THAT(r.notes, Contains(HasSubstr("1 sample(s) of handler \"kata\" ignored")));
}

// A zero measured overhead is a measurement (the guest uses all the pod cgroup holds): podFixed = the base.
TEST(RecommendPodFixed, ZeroOverheadLeavesTheBase) {
  auto h = RecommendPodFixed({Sample(2304, 0, "a")}, {KataCc()}, HostOverheadModel{}).handlers[0];
  EXPECT_EQ(h.pod_fixed_mib, 2048);
}

// A fractional byte count (Prometheus' floats) rounds up, and the result rounds up to a whole MiB.
TEST(RecommendPodFixed, RoundsUp) {
  OverheadSample s = Sample(2304, 0, "a");
  s.host_overhead_bytes = 100.0 * kMib + 0.5;
  auto h = RecommendPodFixed({s}, {KataCc()}, HostOverheadModel{}).handlers[0];
  EXPECT_EQ(h.buckets[0].p95_bytes, 100 * kMib + 1);
  EXPECT_EQ(h.pod_fixed_mib, 2048 + 116);  // (100 MiB + 1) · 1.15 = 115.000001 MiB → 116
}

}  // namespace
}  // namespace uvm::sizer
