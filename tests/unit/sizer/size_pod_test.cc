#include "sizer/size_pod.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/sizer/sizing_test_util.h"

namespace uvm::sizer {
namespace {

using testing::Make;
using testing::Q;

constexpr int64_t kMib = 1 << 20;

Pod WebPod(const char* runtime_class, const char* cpu, const char* memory) {
  Pod pod;
  pod.ref = {.kind = "Deployment", .namespace_ = "default", .name = "web", .document = 1};
  if (runtime_class) pod.spec.runtime_class_name = runtime_class;
  pod.spec.containers = {Make("web", cpu, memory)};
  return pod;
}

PodSizing Size(const Pod& pod, const SizingContext& ctx = {}) {
  auto r = SizePod(pod, ctx);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : PodSizing{};
}

bool HasWarning(const PodSizing& s, std::string_view fragment) {
  return std::any_of(s.warnings.begin(), s.warnings.end(),
                     [&](const std::string& w) { return w.find(fragment) != std::string::npos; });
}

TEST(SizePod, KataCcDeploymentAsInTheJsonContract) {
  PodSizing s = Size(WebPod("kata-cc-isolation", "1500m", "512Mi"));
  EXPECT_EQ(s.handler, "kata-cc");
  EXPECT_EQ(s.profile.value_or(""), "aks-kata-cc-2048");
  EXPECT_EQ(s.sandbox, (SandboxResources{100000, 150000, 1536, 536870912}));
  ASSERT_TRUE(s.uvm);
  // ceil(1 + 1.5) = 3 by SIZING.md §3 (the JSON example shows 2; the formula is what the runtime
  // does).
  EXPECT_EQ(s.uvm->vcpus, 3u);
  EXPECT_EQ(s.uvm->memory_mib, 2560u);
  HostOverheadModel host;
  int64_t expected_host = 2560 * kMib + host.OverheadBytes(2560);
  EXPECT_EQ(s.host_memory_bytes.value_or(0), expected_host);
  EXPECT_EQ(s.overhead.required_memory_bytes, expected_host - 512 * kMib);
  EXPECT_EQ(s.overhead.declared_memory_bytes, 0);
  EXPECT_EQ(s.overhead.shortfall_bytes, s.overhead.required_memory_bytes);
  EXPECT_TRUE(HasWarning(s, "declared overhead memory (none)"));
  EXPECT_EQ(s.pod_cgroup.memory_limit_bytes.value_or(0), 512 * kMib);
}

TEST(SizePod, HostOverheadModelDefaultsMatchTheCitedMeasurements) {
  HostOverheadModel host;
  // AKS reserves ~88 MiB for a 512 MiB VM (RuntimeClass overhead 600Mi).
  EXPECT_NEAR(static_cast<double>(host.OverheadBytes(512)) / kMib, 88.2, 0.05);
  // AKS's measured slope: 4.4 MiB more per GiB of guest RAM.
  EXPECT_NEAR(static_cast<double>(host.OverheadBytes(1024 * 11) - host.OverheadBytes(1024)) / kMib, 44.0,
              0.01);
}

TEST(SizePod, DeclaredOverheadComesFromFlagThenSpecThenRuntimeClass) {
  SizingContext ctx;
  ctx.runtime_classes = {
      {.name = "kata-vm-isolation", .handler = "kata", .overhead_pod_fixed = {Q("250m"), Q("600Mi")}}};
  Pod pod = WebPod("kata-vm-isolation", "1", "1Gi");
  PodSizing from_rc = Size(pod, ctx);
  EXPECT_EQ(from_rc.overhead.declared_memory_bytes, 600 * kMib);
  EXPECT_EQ(from_rc.pod_cgroup.memory_limit_bytes.value_or(0), (1024 + 600) * kMib);

  pod.spec.overhead.memory = Q("700Mi");
  PodSizing from_spec = Size(pod, ctx);
  EXPECT_EQ(from_spec.overhead.declared_memory_bytes, 700 * kMib);
  EXPECT_TRUE(HasWarning(from_spec, "admission rejects"));

  ctx.overhead_override.memory = Q("1Gi");
  EXPECT_EQ(Size(pod, ctx).overhead.declared_memory_bytes, 1024 * kMib);
}

TEST(DeclaredFromCri, QuotaPerPeriodInMillicoresAndMemoryAsIs) {
  struct Case {
    SandboxResources overhead;
    int64_t memory_bytes, cpu_millis;
  };
  const Case cases[] = {
      {{.cpu_period = 100000, .cpu_quota = 25000, .memory_limit_in_bytes = 629145600}, 629145600, 250},
      {{.cpu_period = 50000, .cpu_quota = 75000}, 0, 1500},
      {{.cpu_period = 100000, .cpu_quota = 1}, 0, 0},  // below a millicore: rounds down
      {{.cpu_period = 0, .cpu_quota = 25000, .memory_limit_in_bytes = 1}, 1, 0},  // no period: no CPU
      {{.cpu_period = 100000, .cpu_quota = -1}, 0, 0},  // unlimited quota: none declared
      {{.memory_limit_in_bytes = -5}, 0, 0},            // negative memory: none
  };
  for (const Case& c : cases) {
    DeclaredOverhead d = DeclaredFromCri(c.overhead);
    EXPECT_EQ(d.memory_bytes, c.memory_bytes) << c.overhead.memory_limit_in_bytes;
    EXPECT_EQ(d.cpu_millis, c.cpu_millis) << c.overhead.cpu_quota << "/" << c.overhead.cpu_period;
  }
}

TEST(SizePod, OverheadShortfallIsNeedMinusDeclared) {
  SizingContext ctx;
  ctx.overhead_override.memory = Q("160Mi");
  PodSizing s = Size(WebPod("kata-cc", "1500m", "512Mi"), ctx);
  // kata-cc: UVM 2560 MiB for a 512 MiB limit: 2048 MiB + host overhead beyond the limit.
  EXPECT_EQ(s.overhead.required_memory_bytes, s.host_memory_bytes.value() - 512 * kMib);
  EXPECT_EQ(s.overhead.shortfall_bytes, s.overhead.required_memory_bytes - 160 * kMib);
  ctx.overhead_override.memory = Q("4Gi");
  PodSizing covered = Size(WebPod("kata-cc", "1500m", "512Mi"), ctx);
  EXPECT_EQ(covered.overhead.shortfall_bytes, 0);
  EXPECT_FALSE(HasWarning(covered, "short of"));
}

TEST(SizePod, HandlerPrecedenceProfileThenHandlerThenRuntimeClass) {
  SizingContext ctx;
  Pod pod = WebPod("kata-cc-isolation", "1", "1Gi");
  ctx.handler_override = "kata";
  EXPECT_EQ(Size(pod, ctx).profile.value_or(""), "aks-kata-256");
  ctx.profile_override = "aks-2025";
  PodSizing s = Size(pod, ctx);
  EXPECT_EQ(s.profile.value_or(""), "aks-2025");
  EXPECT_EQ(s.uvm->memory_mib, 1024u);
  ctx.profile_override = "nope";
  auto bad = SizePod(pod, ctx);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "unknown profile \"nope\"");
}

TEST(SizePod, RuntimeClassObjectsWinOverAliases) {
  SizingContext ctx;
  ctx.runtime_classes = {{.name = "kata-cc-isolation", .handler = "kata"}};
  EXPECT_EQ(Size(WebPod("kata-cc-isolation", "1", "1Gi"), ctx).handler, "kata");
  ctx.runtime_classes.clear();
  ctx.runtime_class_aliases["confidential"] = "kata-cc";
  EXPECT_EQ(Size(WebPod("confidential", "1", "1Gi"), ctx).handler, "kata-cc");
}

TEST(SizePod, PodsWithoutAProfileAreNotVmIsolated) {
  PodSizing runc = Size(WebPod("runc", "1", "1Gi"));
  EXPECT_FALSE(runc.profile);
  EXPECT_FALSE(runc.uvm);
  EXPECT_FALSE(runc.host_memory_bytes);
  EXPECT_TRUE(HasWarning(runc, "not VM-isolated"));
  PodSizing none = Size(WebPod(nullptr, "1", "1Gi"));
  EXPECT_EQ(none.handler, "");
  EXPECT_TRUE(HasWarning(none, "default runtime"));
}

TEST(SizePod, WarnsAboutAnUnboundedPodCgroupAndIgnoredRequests) {
  Pod pod = WebPod("kata", "1", "1Gi");
  pod.spec.containers.push_back(Make("logger", nullptr, nullptr, "100m", "64Mi"));
  PodSizing s = Size(pod);
  EXPECT_FALSE(s.pod_cgroup.memory_limit_bytes);
  EXPECT_TRUE(HasWarning(s, "container \"logger\" has no memory limit"));
  EXPECT_TRUE(HasWarning(s, "requests are ignored by Kata"));
  EXPECT_EQ(s.uvm->memory_mib, 1280u);  // SIZING.md §7 F
}

TEST(SizePod, RefusalIsReportedNotAnError) {
  SizingContext ctx;
  ctx.profile_override = "aks-2025-min128";
  PodSizing s = Size(WebPod("kata", "500m", "100Mi"), ctx);
  EXPECT_FALSE(s.uvm);
  EXPECT_EQ(s.refusal.value_or(""), "pod memory limit too low: minimum 128MiB, got 100MiB");
  EXPECT_FALSE(s.host_memory_bytes);
}

TEST(SizePod, WarnsWhenTheGuestOsLeavesTooLittleForTheLimit) {
  SizingContext ctx;
  ctx.profile_override = "aks-2025";
  EXPECT_TRUE(HasWarning(Size(WebPod("kata", "1", "256Mi"), ctx), "guest kernel"));
  ctx.profile_override = "aks-kata-cc-2048";
  EXPECT_FALSE(HasWarning(Size(WebPod("kata", "1", "256Mi"), ctx), "guest kernel"));
}

TEST(SizePod, CpuOverflowNamesThePod) {
  auto r = SizePod(WebPod("kata", "9223372036854775807", "1Gi"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("document 1 (Deployment default/web): pod cpu limit", 0), 0u)
      << r.error().message;
}

TEST(SizePodOverflow, MemoryBeyondInt64IsRefusedNamingTheField) {
  // SIZING.md §6: where apimachinery's Value() is garbage (Quantity::ValueOverflows) we refuse.
  Pod pod;
  pod.ref = {.kind = "Pod", .namespace_ = "default", .name = "big", .document = 1};
  pod.spec.runtime_class_name = "kata";
  pod.spec.containers = {testing::Make("app", "1", "1Gi")};
  pod.spec.overhead.memory = testing::Q("1e19");
  auto r = SizePod(pod, SizingContext{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "document 1 (Pod default/big): spec.overhead.memory is too large: above 2^63-1 bytes");
  pod.spec.overhead.memory.reset();
  pod.spec.containers = {testing::Make("app", "1", "1e19")};
  auto limit = SizePod(pod, SizingContext{});
  ASSERT_FALSE(limit.ok());
  EXPECT_NE(limit.error().message.find("document 1 (Pod default/big): pod memory limit is too large"),
            std::string::npos)
      << limit.error().message;
}

TEST(SizePodAnnotations, AnUnenabledHypervisorAnnotationIsTheRuntimesRefusal) {
  Pod pod;
  pod.spec.runtime_class_name = "kata";
  pod.spec.containers = {testing::Make("app", "1", "1Gi")};
  pod.annotations["io.katacontainers.config.hypervisor.default_vcpus"] = "2";
  auto r = SizePod(pod, SizingContext{});  // aks-kata-256 enables nothing
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->uvm.has_value());
  EXPECT_EQ(r->refusal.value_or(""),
            "annotation io.katacontainers.config.hypervisor.default_vcpus is not enabled");
}

}  // namespace
}  // namespace uvm::sizer
