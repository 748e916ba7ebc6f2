#include "sizer/kubelet.h"

#include <gtest/gtest.h>

#include "tests/unit/sizer/sizing_test_util.h"

namespace uvm::sizer {
namespace {

using testing::Make;
using testing::Q;
using testing::Sidecar;

SandboxResources Sandbox(const PodSpec& spec, KubeletOptions options = {}) {
  auto r = SandboxResourcesForPod(spec, options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : SandboxResources{};
}

TEST(KubeletHelpers, MilliCpuToSharesMatchesKubelet) {
  EXPECT_EQ(MilliCpuToShares(0), 2);
  EXPECT_EQ(MilliCpuToShares(1), 2);  // 1*1024/1000 = 1 < MinShares
  EXPECT_EQ(MilliCpuToShares(250), 256);
  EXPECT_EQ(MilliCpuToShares(1500), 1536);
  EXPECT_EQ(MilliCpuToShares(1000000), 262144);  // MaxShares
}

TEST(KubeletHelpers, MilliCpuToQuotaHasAFloorOfOneMillisecond) {
  EXPECT_EQ(MilliCpuToQuota(0, 100000), 0);
  EXPECT_EQ(MilliCpuToQuota(1, 100000), 1000);  // 100 µs raised to MinQuotaPeriod
  EXPECT_EQ(MilliCpuToQuota(250, 100000), 25000);
  EXPECT_EQ(MilliCpuToQuota(2500, 100000), 250000);
  EXPECT_EQ(MilliCpuToQuota(1500, 50000), 75000);
}

TEST(SandboxResources, WorkedExamplesOfSizingMd) {
  // SIZING.md §7, column "sandbox quota / memory bytes".
  struct Case {
    const char* name;
    PodSpec spec;
    int64_t quota;
    int64_t memory;
  };
  std::vector<Case> cases = {
      {"A none", {.containers = {Make("a", nullptr, nullptr)}}, 0, 0},
      {"B 1/1Gi", {.containers = {Make("a", "1", "1Gi")}}, 100000, 1073741824},
      {"C 500m/512Mi", {.containers = {Make("a", "500m", "512Mi")}}, 50000, 536870912},
      {"D 2.5/3Gi", {.containers = {Make("a", "2.5", "3Gi")}}, 250000, 3221225472},
      {"E 2x", {.containers = {Make("a", "250m", "256Mi"), Make("b", "250m", "256Mi")}}, 50000, 536870912},
      {"F partial", {.containers = {Make("a", "1", "1Gi"), Make("b", nullptr, nullptr)}}, 100000, 1073741824},
  };
  for (const auto& c : cases) {
    SandboxResources r = Sandbox(c.spec);
    EXPECT_EQ(r.cpu_period, 100000) << c.name;
    EXPECT_EQ(r.cpu_quota, c.quota) << c.name;
    EXPECT_EQ(r.memory_limit_in_bytes, c.memory) << c.name;
  }
}

TEST(SandboxResources, SharesComeFromRequestsDefaultedToLimits) {
  PodSpec spec{.containers = {Make("a", "1500m", "512Mi")}};
  EXPECT_EQ(Sandbox(spec).cpu_shares, 1536);
  spec.containers[0] = Make("a", "2", "512Mi", "250m");
  EXPECT_EQ(Sandbox(spec).cpu_shares, 256);
  spec.containers[0] = Make("a", nullptr, nullptr, "500m", "1Gi");  // requests only
  SandboxResources r = Sandbox(spec);
  EXPECT_EQ(r.cpu_shares, 512);
  EXPECT_EQ(r.cpu_quota, 0);
  EXPECT_EQ(r.memory_limit_in_bytes, 0);
  EXPECT_EQ(Sandbox(PodSpec{.containers = {Make("a", nullptr, nullptr)}}).cpu_shares, 2);
}

TEST(SandboxResources, InitContainersRaiseTheAggregateToTheirPeak) {
  PodSpec spec{.init_containers = {Make("init", "3", "2Gi")}, .containers = {Make("a", "1", "1Gi")}};
  SandboxResources r = Sandbox(spec);
  EXPECT_EQ(r.cpu_quota, 300000);
  EXPECT_EQ(r.memory_limit_in_bytes, 2147483648);
}

TEST(SandboxResources, SidecarsAddToRegularContainersAndToLaterInitContainers) {
  // sidecar 500m/256Mi + app 1/1Gi = 1500m/1280Mi; a later init (1/1Gi) uses 1 + 0.5 = 1500m: not above.
  PodSpec spec{.init_containers = {Sidecar("proxy", "500m", "256Mi"), Make("migrate", "1", "1Gi")},
               .containers = {Make("app", "1", "1Gi")}};
  SandboxResources r = Sandbox(spec);
  EXPECT_EQ(r.cpu_quota, 150000);
  EXPECT_EQ(r.memory_limit_in_bytes, 1280LL << 20);
  // An init container bigger than the steady state, beside a sidecar declared before it: 2 + 0.5.
  spec.init_containers[1] = Make("migrate", "2", "3Gi");
  r = Sandbox(spec);
  EXPECT_EQ(r.cpu_quota, 250000);
  EXPECT_EQ(r.memory_limit_in_bytes, (3072LL + 256) << 20);
}

TEST(SandboxResources, SidecarDeclaredAfterAnInitContainerDoesNotRunBesideIt) {
  PodSpec spec{.init_containers = {Make("migrate", "2", "2Gi"), Sidecar("proxy", "500m", "256Mi")},
               .containers = {Make("app", "1", "1Gi")}};
  SandboxResources r = Sandbox(spec);
  EXPECT_EQ(r.cpu_quota, 200000);  // max(1.5, 2)
  EXPECT_EQ(r.memory_limit_in_bytes, 2048LL << 20);
}

TEST(SandboxResources, PodLevelResourcesReplaceTheAggregateOfWhatTheySet) {
  PodSpec spec{.containers = {Make("a", "1", "1Gi"), Make("b", "1", "1Gi")}};
  spec.pod_resources.limits.memory = Q("3Gi");
  SandboxResources r = Sandbox(spec);
  EXPECT_EQ(r.memory_limit_in_bytes, 3LL << 30);
  EXPECT_EQ(r.cpu_quota, 200000);  // cpu still from the containers
}

TEST(SandboxResources, CfsQuotaOffSendsNoPeriodOrQuota) {
  PodSpec spec{.containers = {Make("a", "2", "1Gi")}};
  SandboxResources r = Sandbox(spec, KubeletOptions{.cpu_cfs_quota = false});
  EXPECT_EQ(r.cpu_period, 0);
  EXPECT_EQ(r.cpu_quota, 0);
  EXPECT_EQ(r.memory_limit_in_bytes, 1LL << 30);
}

TEST(SandboxResources, CustomQuotaPeriod) {
  PodSpec spec{.containers = {Make("a", "1500m", "1Gi")}};
  SandboxResources r = Sandbox(spec, KubeletOptions{.cpu_cfs_quota_period_us = 50000});
  EXPECT_EQ(r.cpu_period, 50000);
  EXPECT_EQ(r.cpu_quota, 75000);
}

TEST(SandboxResources, ExclusiveCpuPodsGetNoQuotaOnStaticCpuManagerNodes) {
  PodSpec guaranteed_integer{.containers = {Make("a", "2", "1Gi")}};
  EXPECT_EQ(Sandbox(guaranteed_integer, KubeletOptions{.static_cpu_manager = true}).cpu_quota, -1);
  EXPECT_EQ(Sandbox(guaranteed_integer).cpu_quota, 200000);
  PodSpec fractional{.containers = {Make("a", "1500m", "1Gi")}};
  EXPECT_EQ(Sandbox(fractional, KubeletOptions{.static_cpu_manager = true}).cpu_quota, 150000);
  PodSpec burstable{.containers = {Make("a", "2", "1Gi", "1")}};
  EXPECT_EQ(Sandbox(burstable, KubeletOptions{.static_cpu_manager = true}).cpu_quota, 200000);
}

TEST(SandboxResources, RefusesACpuLimitWhoseMillicoresOverflow) {
  PodSpec spec{.containers = {Make("a", "9223372036854775807", "1Gi")}};
  auto r = SandboxResourcesForPod(spec, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cpu limit"), std::string::npos) << r.error().message;
}

TEST(Qos, ClassesFollowKubernetes) {
  EXPECT_EQ(PodQos(PodSpec{.containers = {Make("a", nullptr, nullptr)}}), QosClass::kBestEffort);
  EXPECT_EQ(PodQos(PodSpec{.containers = {Make("a", "1", "1Gi")}}), QosClass::kGuaranteed);
  EXPECT_EQ(PodQos(PodSpec{.containers = {Make("a", "1", "1Gi"), Make("b", nullptr, nullptr)}}),
            QosClass::kBurstable);
  EXPECT_EQ(PodQos(PodSpec{.containers = {Make("a", "1", "1Gi", "500m")}}), QosClass::kBurstable);
  EXPECT_EQ(PodQos(PodSpec{.containers = {Make("a", "1", nullptr)}}), QosClass::kBurstable);
}

TEST(PodCgroup, MemoryIsLimitedOnlyWhenEveryContainerDeclaresALimit) {
  PodSpec spec{.containers = {Make("a", "1", "1Gi"), Make("b", nullptr, nullptr)}};
  spec.overhead.memory = Q("160Mi");
  PodCgroupLimits f = PodCgroupLimitsForPod(spec, {});
  EXPECT_FALSE(f.memory_limit_bytes.has_value());  // SIZING.md §7 F
  EXPECT_FALSE(f.cpu_quota_us.has_value());

  PodSpec c{.containers = {Make("a", "1500m", "512Mi")}};
  c.overhead = {Q("250m"), Q("160Mi")};
  PodCgroupLimits limited = PodCgroupLimitsForPod(c, {});
  ASSERT_TRUE(limited.memory_limit_bytes.has_value());
  EXPECT_EQ(*limited.memory_limit_bytes, 672LL << 20);  // CRI.md §4.3: 512 + 160 MiB
  ASSERT_TRUE(limited.cpu_quota_us.has_value());
  EXPECT_EQ(*limited.cpu_quota_us, 175000);
  EXPECT_EQ(limited.cpu_shares, 1792);
}

TEST(PodCgroup, BestEffortGetsMinimumSharesAndNoLimits) {
  PodCgroupLimits l = PodCgroupLimitsForPod(PodSpec{.containers = {Make("a", nullptr, nullptr)}}, {});
  EXPECT_EQ(l.cpu_shares, 2);
  EXPECT_FALSE(l.memory_limit_bytes);
  EXPECT_FALSE(l.cpu_quota_us);
}

TEST(PodCgroup, CfsQuotaOffMeansUnlimitedQuota) {
  PodCgroupLimits l = PodCgroupLimitsForPod(PodSpec{.containers = {Make("a", "1", "1Gi")}},
                                            KubeletOptions{.cpu_cfs_quota = false});
  ASSERT_TRUE(l.cpu_quota_us);
  EXPECT_EQ(*l.cpu_quota_us, -1);
}

TEST(ContainerResources, InCreationOrderWithPerContainerQuota) {
  PodSpec spec{.init_containers = {Sidecar("proxy", "100m", "64Mi")},
               .containers = {Make("app", "1", "1Gi"), Make("side", nullptr, nullptr)}};
  auto list = ContainerResourcesForPod(spec, {});
  ASSERT_EQ(list.size(), 3u);
  EXPECT_TRUE(list[0].sidecar);
  EXPECT_EQ(list[0].cpu_quota, 10000);
  EXPECT_EQ(list[1].memory_limit_in_bytes, 1LL << 30);
  EXPECT_EQ(list[2].cpu_quota, 0);
}

Container Init(std::string name, const char* cpu, const char* memory) {
  return Make(std::move(name), cpu, memory);
}

TEST(PodCgroupLimits, EveryContainerInitAndSidecarIncludedMustDeclareALimit) {
  // kubernetes pkg/kubelet/cm/helpers_linux.go ResourceConfigForPod: PodLimits' ContainerFn clears
  // cpu/memoryLimitsDeclared for any container, init containers included (PR #103107), whose limits are
  // zero; for an init container it sees its InitContainerUse (own + sidecars before it), see
  // component-helpers resource/helpers.go AggregateContainerLimits.
  struct Case {
    const char* name;
    PodSpec spec;
    std::optional<int64_t> memory;
    std::optional<int64_t> quota;
  };
  std::vector<Case> cases = {
      {"app only", {.containers = {Make("app", "500m", "512Mi")}}, 536870912, 50000},
      {"init without resources",
       {.init_containers = {Init("init", nullptr, nullptr)}, .containers = {Make("app", "500m", "512Mi")}},
       std::nullopt,
       std::nullopt},
      {"init with memory only",
       {.init_containers = {Init("init", nullptr, "64Mi")}, .containers = {Make("app", "500m", "512Mi")}},
       536870912,
       std::nullopt},
      {"sidecar without limits",
       {.init_containers = {Sidecar("proxy", nullptr, nullptr)},
        .containers = {Make("app", "500m", "512Mi")}},
       std::nullopt,
       std::nullopt},
      // The init container's use includes the sidecar before it, so it counts as declared.
      {"init after a limited sidecar",
       {.init_containers = {Sidecar("proxy", "100m", "64Mi"), Init("init", nullptr, nullptr)},
        .containers = {Make("app", "500m", "512Mi")}},
       603979776,
       60000},
      {"zero limit counts as undeclared",
       {.containers = {Make("app", "500m", "512Mi"), Make("b", "0", "0")}},
       std::nullopt,
       std::nullopt},
  };
  for (const auto& c : cases) {
    PodCgroupLimits limits = PodCgroupLimitsForPod(c.spec, {});
    EXPECT_EQ(limits.memory_limit_bytes, c.memory) << c.name;
    EXPECT_EQ(limits.cpu_quota_us, c.quota) << c.name;
  }
}

TEST(PodCgroupLimits, PodLevelLimitsDeclareOnlyWhenNonZero) {
  // ResourceConfigForPod: `if !allocatedPod.Spec.Resources.Limits.Memory().IsZero() { memoryLimitsDeclared
  // = true }`; PodLimits adds overhead only to non-zero limits.
  PodSpec spec{.containers = {Make("app", nullptr, nullptr, "100m", "64Mi")}};
  spec.pod_resources.limits.memory = Q("1Gi");
  spec.overhead.memory = Q("100Mi");
  EXPECT_EQ(PodCgroupLimitsForPod(spec, {}).memory_limit_bytes, (1024 + 100) * 1048576LL);
  spec.pod_resources.limits.memory = Q("0");
  EXPECT_EQ(PodCgroupLimitsForPod(spec, {}).memory_limit_bytes, std::nullopt);
}

TEST(PodCgroupLimits, SharesIncludeOverheadEvenWithoutCpuRequests) {
  // component-helpers PodRequests: addResourceList(reqs, pod.Spec.Overhead) creates the cpu entry when no
  // container requests CPU. A Burstable pod with RuntimeClass overhead 250m: 256 shares, not 2.
  PodSpec spec{.containers = {Make("app", nullptr, "512Mi")}};
  spec.overhead.cpu = Q("250m");
  spec.overhead.memory = Q("160Mi");
  ASSERT_EQ(PodQos(spec), QosClass::kBurstable);
  PodCgroupLimits limits = PodCgroupLimitsForPod(spec, {});
  EXPECT_EQ(limits.cpu_shares, 256);
  // PodLimits adds overhead only to limits present: no CPU limit, so no quota; memory 512Mi + 160Mi.
  EXPECT_EQ(limits.cpu_quota_us, std::nullopt);
  EXPECT_EQ(limits.memory_limit_bytes, 672 * 1048576LL);
}

TEST(SandboxResources, MemoryBeyondInt64IsRefusedNotWrapped) {
  // SIZING.md §6; Quantity::ValueOverflows cites apimachinery. The kubelet would pass 0 for "1e19"
  // (no memory limit at all) and a wrapped value for a sum that overflows.
  struct Case {
    const char* name;
    PodSpec spec;
  };
  std::vector<Case> cases = {
      {"container 1e19", {.containers = {Make("app", "1", "1e19")}}},
      {"sum overflows", {.containers = {Make("a", "1", "5e18"), Make("b", "1", "5e18")}}},
  };
  PodSpec pod_level{.containers = {Make("app", nullptr, nullptr)}};
  pod_level.pod_resources.limits.memory = Q("1e19");
  cases.push_back({"pod-level 1e19", pod_level});
  for (const auto& c : cases) {
    auto r = SandboxResourcesForPod(c.spec, {});
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.error().message.find("pod memory limit is too large"), std::string::npos)
        << r.error().message;
  }
  // 8Ei is clamped by apimachinery itself (maxAllowed): well defined, sized as 2^63-1 bytes.
  auto ok = SandboxResourcesForPod({.containers = {Make("app", "1", "8Ei")}}, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->memory_limit_in_bytes, INT64_MAX);
}

}  // namespace
}  // namespace uvm::sizer
